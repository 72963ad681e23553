package build

import (
	"fmt"
	"net/url"
	"path"
	"sort"
	"strings"

	buildv1 "github.com/openshift/api/build/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apiresource "k8s.io/apimachinery/pkg/api/resource"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

const (
	maxDockerfileLengthBytes  = 60 * 1000
	maxJenkinsfileLengthBytes = 100 * 1000
)

var (
	supportedRunPolicies = []string{
		string(buildv1.BuildRunPolicySerial),
		string(buildv1.BuildRunPolicyParallel),
		string(buildv1.BuildRunPolicySerialLatestOnly),
	}
	supportedStrategyTypes = []string{
		string(buildv1.SourceBuildStrategyType),
		string(buildv1.DockerBuildStrategyType),
		string(buildv1.CustomBuildStrategyType),
		string(buildv1.JenkinsPipelineBuildStrategyType),
	}
	supportedSourceTypes = []string{
		string(buildv1.BuildSourceGit),
		string(buildv1.BuildSourceDockerfile),
		string(buildv1.BuildSourceBinary),
		string(buildv1.BuildSourceImage),
		string(buildv1.BuildSourceNone),
	}
	supportedTriggerTypes = []string{
		string(buildv1.GitHubWebHookBuildTriggerType),
		string(buildv1.GenericWebHookBuildTriggerType),
		string(buildv1.GitLabWebHookBuildTriggerType),
		string(buildv1.BitbucketWebHookBuildTriggerType),
		string(buildv1.ImageChangeBuildTriggerType),
		string(buildv1.ConfigChangeBuildTriggerType),
	}
	supportedImageOptimizationPolicies = []string{
		string(buildv1.ImageOptimizationNone),
		string(buildv1.ImageOptimizationSkipLayers),
		string(buildv1.ImageOptimizationSkipLayersAndWarn),
	}
	supportedBuildPhases = []string{
		string(buildv1.BuildPhaseNew),
		string(buildv1.BuildPhasePending),
		string(buildv1.BuildPhaseRunning),
		string(buildv1.BuildPhaseComplete),
		string(buildv1.BuildPhaseFailed),
		string(buildv1.BuildPhaseError),
		string(buildv1.BuildPhaseCancelled),
	}
)

// validateBuildConfig checks a build config's spec.
func validateBuildConfig(bc *buildv1.BuildConfig) field.ErrorList {
	specPath := field.NewPath("spec")
	allErrs := validateCommonSpec(&bc.Spec.CommonSpec, specPath)
	allErrs = append(allErrs, validateTriggers(bc.Spec.Triggers, &bc.Spec.Strategy, bc.Namespace, specPath.Child("triggers"))...)
	if !contains(supportedRunPolicies, string(bc.Spec.RunPolicy)) {
		allErrs = append(allErrs, field.NotSupported(specPath.Child("runPolicy"), bc.Spec.RunPolicy, supportedRunPolicies))
	}
	allErrs = append(allErrs, validateNonNegative32(bc.Spec.SuccessfulBuildsHistoryLimit, specPath.Child("successfulBuildsHistoryLimit"))...)
	allErrs = append(allErrs, validateNonNegative32(bc.Spec.FailedBuildsHistoryLimit, specPath.Child("failedBuildsHistoryLimit"))...)
	return allErrs
}

// validateBuildConfigStatusUpdate keeps lastVersion from going backwards,
// which would make new builds collide with existing ones.
func validateBuildConfigStatusUpdate(bc, old *buildv1.BuildConfig) field.ErrorList {
	if bc.Status.LastVersion < old.Status.LastVersion {
		return field.ErrorList{field.Invalid(field.NewPath("status", "lastVersion"), bc.Status.LastVersion,
			fmt.Sprintf("must not be decreased (currently %d)", old.Status.LastVersion))}
	}
	return nil
}

// validateBuild checks a build's spec.
func validateBuild(b *buildv1.Build) field.ErrorList {
	return validateCommonSpec(&b.Spec.CommonSpec, field.NewPath("spec"))
}

// validateBuildUpdate reports every part of the spec that changed: a build's
// spec is immutable once created, except for the output push secret (which
// OpenShift lets clients rotate).
func validateBuildUpdate(b, old *buildv1.Build) field.ErrorList {
	const detail = "a build's spec is immutable after creation; only metadata and status may change"
	specPath := field.NewPath("spec")
	n, o := &b.Spec, &old.Spec
	changes := []struct {
		path       *field.Path
		newV, oldV interface{}
	}{
		{specPath.Child("serviceAccount"), n.ServiceAccount, o.ServiceAccount},
		{specPath.Child("source"), n.Source, o.Source},
		{specPath.Child("revision"), n.Revision, o.Revision},
		{specPath.Child("strategy"), n.Strategy, o.Strategy},
		{specPath.Child("output", "to"), n.Output.To, o.Output.To},
		{specPath.Child("output", "imageLabels"), n.Output.ImageLabels, o.Output.ImageLabels},
		{specPath.Child("resources"), n.Resources, o.Resources},
		{specPath.Child("postCommit"), n.PostCommit, o.PostCommit},
		{specPath.Child("completionDeadlineSeconds"), n.CompletionDeadlineSeconds, o.CompletionDeadlineSeconds},
		{specPath.Child("nodeSelector"), n.NodeSelector, o.NodeSelector},
		{specPath.Child("mountTrustedCA"), n.MountTrustedCA, o.MountTrustedCA},
		{specPath.Child("triggeredBy"), n.TriggeredBy, o.TriggeredBy},
	}
	var allErrs field.ErrorList
	for _, c := range changes {
		if !apiequality.Semantic.DeepEqual(c.newV, c.oldV) {
			allErrs = append(allErrs, field.Forbidden(c.path, detail))
		}
	}
	return allErrs
}

// validateBuildStatusUpdate checks the phase: it must be known and may not
// change once the build reached a terminal phase.
func validateBuildStatusUpdate(b, old *buildv1.Build) field.ErrorList {
	phasePath := field.NewPath("status", "phase")
	var allErrs field.ErrorList
	if !contains(supportedBuildPhases, string(b.Status.Phase)) {
		allErrs = append(allErrs, field.NotSupported(phasePath, b.Status.Phase, supportedBuildPhases))
	}
	if isTerminalPhase(old.Status.Phase) && b.Status.Phase != old.Status.Phase {
		allErrs = append(allErrs, field.Invalid(phasePath, b.Status.Phase,
			fmt.Sprintf("cannot change from the terminal phase %s", old.Status.Phase)))
	}
	return allErrs
}

func isTerminalPhase(p buildv1.BuildPhase) bool {
	switch p {
	case buildv1.BuildPhaseComplete, buildv1.BuildPhaseFailed, buildv1.BuildPhaseError, buildv1.BuildPhaseCancelled:
		return true
	}
	return false
}

// validateCommonSpec checks the part of the spec builds and build configs share.
func validateCommonSpec(spec *buildv1.CommonSpec, fldPath *field.Path) field.ErrorList {
	allErrs := validateStrategy(&spec.Strategy, fldPath.Child("strategy"))
	allErrs = append(allErrs, validateSource(&spec.Source, &spec.Strategy, fldPath.Child("source"))...)
	allErrs = append(allErrs, validateOutput(&spec.Output, fldPath.Child("output"))...)
	allErrs = append(allErrs, validateResources(&spec.Resources, fldPath.Child("resources"))...)
	if d := spec.CompletionDeadlineSeconds; d != nil && *d <= 0 {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("completionDeadlineSeconds"), *d, "must be greater than 0 when set"))
	}
	if len(spec.PostCommit.Script) != 0 && len(spec.PostCommit.Command) != 0 {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("postCommit", "script"), spec.PostCommit.Script, "may not be set together with command; use either script or command"))
	}
	if spec.ServiceAccount != "" {
		for _, msg := range validation.IsDNS1123Subdomain(spec.ServiceAccount) {
			allErrs = append(allErrs, field.Invalid(fldPath.Child("serviceAccount"), spec.ServiceAccount, msg))
		}
	}
	allErrs = append(allErrs, metav1validation.ValidateLabels(spec.NodeSelector, fldPath.Child("nodeSelector"))...)
	return allErrs
}

// validateStrategy checks that the strategy type names exactly the strategy
// struct that is set, and validates every strategy struct present.
func validateStrategy(s *buildv1.BuildStrategy, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	set := setStrategies(s)
	switch {
	case s.Type == "":
		allErrs = append(allErrs, field.Required(fldPath.Child("type"),
			fmt.Sprintf("must be one of %s, with the matching strategy set", strings.Join(supportedStrategyTypes, ", "))))
	case !contains(supportedStrategyTypes, string(s.Type)):
		allErrs = append(allErrs, field.NotSupported(fldPath.Child("type"), s.Type, supportedStrategyTypes))
	default:
		if !containsStrategy(set, s.Type) {
			allErrs = append(allErrs, field.Required(fldPath.Child(strategyField(s.Type)),
				fmt.Sprintf("must be set when type is %s", s.Type)))
		}
		for _, t := range set {
			if t != s.Type {
				allErrs = append(allErrs, field.Forbidden(fldPath.Child(strategyField(t)),
					fmt.Sprintf("may not be set when type is %s; only %s may be set", s.Type, strategyField(s.Type))))
			}
		}
	}
	if s.SourceStrategy != nil {
		allErrs = append(allErrs, validateSourceStrategy(s.SourceStrategy, fldPath.Child("sourceStrategy"))...)
	}
	if s.DockerStrategy != nil {
		allErrs = append(allErrs, validateDockerStrategy(s.DockerStrategy, fldPath.Child("dockerStrategy"))...)
	}
	if s.CustomStrategy != nil {
		allErrs = append(allErrs, validateCustomStrategy(s.CustomStrategy, fldPath.Child("customStrategy"))...)
	}
	if s.JenkinsPipelineStrategy != nil {
		allErrs = append(allErrs, validateJenkinsPipelineStrategy(s.JenkinsPipelineStrategy, fldPath.Child("jenkinsPipelineStrategy"))...)
	}
	return allErrs
}

func containsStrategy(set []buildv1.BuildStrategyType, t buildv1.BuildStrategyType) bool {
	for _, s := range set {
		if s == t {
			return true
		}
	}
	return false
}

// strategyField is the JSON name of the struct of a strategy type.
func strategyField(t buildv1.BuildStrategyType) string {
	switch t {
	case buildv1.SourceBuildStrategyType:
		return "sourceStrategy"
	case buildv1.DockerBuildStrategyType:
		return "dockerStrategy"
	case buildv1.CustomBuildStrategyType:
		return "customStrategy"
	default:
		return "jenkinsPipelineStrategy"
	}
}

func validateSourceStrategy(s *buildv1.SourceBuildStrategy, fldPath *field.Path) field.ErrorList {
	allErrs := validateImageReference(&s.From, builderImageKinds, fldPath.Child("from"))
	allErrs = append(allErrs, validateLocalRef(s.PullSecret, fldPath.Child("pullSecret"))...)
	allErrs = append(allErrs, validateEnv(s.Env, fldPath.Child("env"))...)
	allErrs = append(allErrs, validateVolumes(s.Volumes, fldPath.Child("volumes"))...)
	return allErrs
}

func validateDockerStrategy(s *buildv1.DockerBuildStrategy, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if s.From != nil {
		allErrs = append(allErrs, validateImageReference(s.From, builderImageKinds, fldPath.Child("from"))...)
	}
	allErrs = append(allErrs, validateLocalRef(s.PullSecret, fldPath.Child("pullSecret"))...)
	allErrs = append(allErrs, validateEnv(s.Env, fldPath.Child("env"))...)
	allErrs = append(allErrs, validateEnv(s.BuildArgs, fldPath.Child("buildArgs"))...)
	if p := s.ImageOptimizationPolicy; p != nil && !contains(supportedImageOptimizationPolicies, string(*p)) {
		allErrs = append(allErrs, field.NotSupported(fldPath.Child("imageOptimizationPolicy"), *p, supportedImageOptimizationPolicies))
	}
	allErrs = append(allErrs, validateRelativePath(s.DockerfilePath, fldPath.Child("dockerfilePath"))...)
	allErrs = append(allErrs, validateVolumes(s.Volumes, fldPath.Child("volumes"))...)
	return allErrs
}

func validateCustomStrategy(s *buildv1.CustomBuildStrategy, fldPath *field.Path) field.ErrorList {
	allErrs := validateImageReference(&s.From, builderImageKinds, fldPath.Child("from"))
	allErrs = append(allErrs, validateLocalRef(s.PullSecret, fldPath.Child("pullSecret"))...)
	allErrs = append(allErrs, validateEnv(s.Env, fldPath.Child("env"))...)
	for i, sec := range s.Secrets {
		p := fldPath.Child("secrets").Index(i)
		if sec.SecretSource.Name == "" {
			allErrs = append(allErrs, field.Required(p.Child("secretSource", "name"), "must name the secret to mount"))
		}
		if sec.MountPath == "" {
			allErrs = append(allErrs, field.Required(p.Child("mountPath"), "must give the path to mount the secret at"))
		}
	}
	return allErrs
}

func validateJenkinsPipelineStrategy(s *buildv1.JenkinsPipelineBuildStrategy, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if s.Jenkinsfile != "" && s.JenkinsfilePath != "" {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("jenkinsfilePath"), s.JenkinsfilePath,
			"may not be set together with jenkinsfile; give either an inline jenkinsfile or a path in the source repository"))
	}
	if len(s.Jenkinsfile) > maxJenkinsfileLengthBytes {
		allErrs = append(allErrs, field.TooLong(fldPath.Child("jenkinsfile"), "", maxJenkinsfileLengthBytes))
	}
	allErrs = append(allErrs, validateRelativePath(s.JenkinsfilePath, fldPath.Child("jenkinsfilePath"))...)
	allErrs = append(allErrs, validateEnv(s.Env, fldPath.Child("env"))...)
	return allErrs
}

// validateSource checks the source type against the inputs set and each input.
func validateSource(src *buildv1.BuildSource, s *buildv1.BuildStrategy, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	switch src.Type {
	case buildv1.BuildSourceGit:
		if src.Git == nil {
			allErrs = append(allErrs, field.Required(fldPath.Child("git"), "must be set when type is Git"))
		}
	case buildv1.BuildSourceBinary:
		if src.Binary == nil {
			allErrs = append(allErrs, field.Required(fldPath.Child("binary"), "must be set when type is Binary"))
		}
	case buildv1.BuildSourceDockerfile:
		if src.Dockerfile == nil {
			allErrs = append(allErrs, field.Required(fldPath.Child("dockerfile"), "must be set when type is Dockerfile"))
		}
	case buildv1.BuildSourceImage:
		if len(src.Images) == 0 {
			allErrs = append(allErrs, field.Required(fldPath.Child("images"), "must list at least one image when type is Image"))
		}
	case buildv1.BuildSourceNone:
	case "":
		allErrs = append(allErrs, field.Required(fldPath.Child("type"),
			fmt.Sprintf("must be one of %s", strings.Join(supportedSourceTypes, ", "))))
	default:
		allErrs = append(allErrs, field.NotSupported(fldPath.Child("type"), src.Type, supportedSourceTypes))
	}

	if src.Git != nil && src.Binary != nil && s.CustomStrategy == nil {
		allErrs = append(allErrs, field.Forbidden(fldPath.Child("binary"), "may not be set together with git (except for the Custom strategy)"))
	}
	if s.DockerStrategy != nil && src.Git == nil && src.Binary == nil && src.Dockerfile == nil && len(src.Images) == 0 {
		allErrs = append(allErrs, field.Required(fldPath, "the Docker strategy needs at least one source input: git, binary, dockerfile or images"))
	}
	if j := s.JenkinsPipelineStrategy; j != nil && j.Jenkinsfile == "" && src.Git == nil {
		allErrs = append(allErrs, field.Required(fldPath.Child("git"), "must be set when the Jenkins pipeline strategy reads its Jenkinsfile from the source repository"))
	}

	if src.Git != nil {
		allErrs = append(allErrs, validateGitSource(src.Git, fldPath.Child("git"))...)
	}
	if src.Binary != nil && src.Binary.AsFile != "" {
		allErrs = append(allErrs, validateAsFile(src.Binary.AsFile, fldPath.Child("binary", "asFile"))...)
	}
	if src.Dockerfile != nil && len(*src.Dockerfile) > maxDockerfileLengthBytes {
		allErrs = append(allErrs, field.TooLong(fldPath.Child("dockerfile"), "", maxDockerfileLengthBytes))
	}
	for i := range src.Images {
		allErrs = append(allErrs, validateImageSource(&src.Images[i], fldPath.Child("images").Index(i))...)
	}
	if src.ContextDir != "" && escapes(src.ContextDir) {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("contextDir"), src.ContextDir, "must be a path inside the source (may not start with ..)"))
	}
	allErrs = append(allErrs, validateLocalRef(src.SourceSecret, fldPath.Child("sourceSecret"))...)
	isDocker := s.DockerStrategy != nil
	for i, sec := range src.Secrets {
		allErrs = append(allErrs, validateSourceMount(sec.Secret.Name, "secret", sec.DestinationDir, isDocker, fldPath.Child("secrets").Index(i))...)
	}
	for i, cm := range src.ConfigMaps {
		allErrs = append(allErrs, validateSourceMount(cm.ConfigMap.Name, "configMap", cm.DestinationDir, isDocker, fldPath.Child("configMaps").Index(i))...)
	}
	return allErrs
}

func validateGitSource(git *buildv1.GitBuildSource, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	switch {
	case git.URI == "":
		allErrs = append(allErrs, field.Required(fldPath.Child("uri"), "must give the URL of the Git repository"))
	case strings.ContainsAny(git.URI, " \t\n"):
		allErrs = append(allErrs, field.Invalid(fldPath.Child("uri"), git.URI, "must be a Git repository URL without whitespace"))
	case strings.Contains(git.URI, "://"):
		if _, err := url.Parse(git.URI); err != nil {
			allErrs = append(allErrs, field.Invalid(fldPath.Child("uri"), git.URI, fmt.Sprintf("must be a valid Git repository URL: %v", err)))
		}
	}
	for _, p := range []struct {
		name  string
		value *string
	}{{"httpProxy", git.HTTPProxy}, {"httpsProxy", git.HTTPSProxy}} {
		if p.value == nil || *p.value == "" {
			continue
		}
		if _, err := parseProxyURL(*p.value); err != nil {
			allErrs = append(allErrs, field.Invalid(fldPath.Child(p.name), *p.value, fmt.Sprintf("must be a proxy URL such as http://proxy:3128: %v", err)))
		}
	}
	return allErrs
}

// parseProxyURL accepts a URL or a bare host:port, as net/http's proxy
// handling does.
func parseProxyURL(proxy string) (*url.URL, error) {
	u, err := url.Parse(proxy)
	if err != nil || !strings.HasPrefix(u.Scheme, "http") {
		if u2, err2 := url.Parse("http://" + proxy); err2 == nil {
			return u2, nil
		}
	}
	return u, err
}

func validateAsFile(asFile string, fldPath *field.Path) field.ErrorList {
	cleaned := strings.TrimPrefix(path.Clean(asFile), "/")
	if cleaned == "" || cleaned == "." || strings.HasPrefix(cleaned, "..") || strings.ContainsAny(cleaned, `/\`) {
		return field.ErrorList{field.Invalid(fldPath, asFile, "must be a plain file name without slashes or relative path segments")}
	}
	return nil
}

func validateImageSource(img *buildv1.ImageSource, fldPath *field.Path) field.ErrorList {
	allErrs := validateImageReference(&img.From, imageSourceKinds, fldPath.Child("from"))
	allErrs = append(allErrs, validateLocalRef(img.PullSecret, fldPath.Child("pullSecret"))...)
	if len(img.Paths) == 0 && len(img.As) == 0 {
		allErrs = append(allErrs, field.Required(fldPath.Child("paths"), "must give paths to copy or names (as) to substitute"))
	}
	for i, p := range img.Paths {
		pp := fldPath.Child("paths").Index(i)
		switch {
		case p.SourcePath == "":
			allErrs = append(allErrs, field.Required(pp.Child("sourcePath"), "must give an absolute path inside the image"))
		case !path.IsAbs(p.SourcePath):
			allErrs = append(allErrs, field.Invalid(pp.Child("sourcePath"), p.SourcePath, "must be an absolute path"))
		}
		switch {
		case p.DestinationDir == "":
			allErrs = append(allErrs, field.Required(pp.Child("destinationDir"), "must give a directory relative to the build context"))
		case path.IsAbs(p.DestinationDir) || escapes(p.DestinationDir):
			allErrs = append(allErrs, field.Invalid(pp.Child("destinationDir"), p.DestinationDir, "must be a relative path inside the build context"))
		}
	}
	for i, as := range img.As {
		if as == "" {
			allErrs = append(allErrs, field.Required(fldPath.Child("as").Index(i), "may not be empty"))
		}
	}
	return allErrs
}

func validateSourceMount(name, kind, destDir string, isDocker bool, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	namePath := fldPath.Child(kind, "name")
	if name == "" {
		allErrs = append(allErrs, field.Required(namePath, fmt.Sprintf("must name the %s to add to the build", kind)))
	} else {
		for _, msg := range validation.IsDNS1123Subdomain(name) {
			allErrs = append(allErrs, field.Invalid(namePath, name, msg))
		}
	}
	if destDir != "" && escapes(destDir) {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("destinationDir"), destDir, "may not start with .."))
	}
	if isDocker && path.IsAbs(destDir) {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("destinationDir"), destDir, "must be a relative path for the Docker strategy"))
	}
	return allErrs
}

// validateOutput checks the output image reference, push secret and labels.
func validateOutput(out *buildv1.BuildOutput, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if out.To != nil {
		allErrs = append(allErrs, validateImageReference(out.To, outputKinds, fldPath.Child("to"))...)
	}
	allErrs = append(allErrs, validateLocalRef(out.PushSecret, fldPath.Child("pushSecret"))...)
	seen := map[string]bool{}
	for i, l := range out.ImageLabels {
		p := fldPath.Child("imageLabels").Index(i).Child("name")
		switch {
		case l.Name == "":
			allErrs = append(allErrs, field.Required(p, "must give the label name"))
		case seen[l.Name]:
			allErrs = append(allErrs, field.Duplicate(p, l.Name))
		default:
			for _, msg := range validation.IsQualifiedName(l.Name) {
				allErrs = append(allErrs, field.Invalid(p, l.Name, msg))
			}
		}
		seen[l.Name] = true
	}
	return allErrs
}

// validateTriggers checks each trigger against its type, that at most one
// ConfigChange trigger exists and that no two ImageChange triggers watch
// the same image stream tag.
func validateTriggers(triggers []buildv1.BuildTriggerPolicy, s *buildv1.BuildStrategy, namespace string, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	buildFrom := strategyFrom(s)
	configChange := 0
	watched := map[string]bool{}
	for i := range triggers {
		t := &triggers[i]
		p := fldPath.Index(i)
		allErrs = append(allErrs, validateTrigger(t, buildFrom, p)...)
		switch t.Type {
		case buildv1.ConfigChangeBuildTriggerType:
			configChange++
			if configChange > 1 {
				allErrs = append(allErrs, field.Invalid(p.Child("type"), t.Type, "at most one ConfigChange trigger is allowed"))
			}
		case buildv1.ImageChangeBuildTriggerType:
			if t.ImageChange == nil {
				continue
			}
			from := t.ImageChange.From
			if from == nil {
				from = buildFrom
			}
			if from == nil || from.Kind != kindImageStreamTag {
				continue
			}
			ns := from.Namespace
			if ns == "" {
				ns = namespace
			}
			key := ns + "/" + from.Name
			if watched[key] {
				allErrs = append(allErrs, field.Invalid(p.Child("imageChange"), from.Name, "another ImageChange trigger already watches this image stream tag"))
			}
			watched[key] = true
		}
	}
	return allErrs
}

// strategyFrom is the builder image of the strategy, if any.
func strategyFrom(s *buildv1.BuildStrategy) *corev1.ObjectReference {
	switch {
	case s.SourceStrategy != nil:
		return &s.SourceStrategy.From
	case s.DockerStrategy != nil:
		return s.DockerStrategy.From
	case s.CustomStrategy != nil:
		return &s.CustomStrategy.From
	}
	return nil
}

// triggerStructs maps each trigger type to the JSON name of its struct and
// whether the struct is set.
func triggerStructs(t *buildv1.BuildTriggerPolicy) map[buildv1.BuildTriggerType]struct {
	name string
	set  bool
} {
	type entry = struct {
		name string
		set  bool
	}
	return map[buildv1.BuildTriggerType]entry{
		buildv1.GitHubWebHookBuildTriggerType:    {"github", t.GitHubWebHook != nil},
		buildv1.GenericWebHookBuildTriggerType:   {"generic", t.GenericWebHook != nil},
		buildv1.GitLabWebHookBuildTriggerType:    {"gitlab", t.GitLabWebHook != nil},
		buildv1.BitbucketWebHookBuildTriggerType: {"bitbucket", t.BitbucketWebHook != nil},
		buildv1.ImageChangeBuildTriggerType:      {"imageChange", t.ImageChange != nil},
	}
}

func validateTrigger(t *buildv1.BuildTriggerPolicy, buildFrom *corev1.ObjectReference, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	switch {
	case t.Type == "":
		allErrs = append(allErrs, field.Required(fldPath.Child("type"), fmt.Sprintf("must be one of %s", strings.Join(supportedTriggerTypes, ", "))))
	case !contains(supportedTriggerTypes, string(t.Type)):
		allErrs = append(allErrs, field.NotSupported(fldPath.Child("type"), t.Type, supportedTriggerTypes))
	}
	structs := triggerStructs(t)
	for _, typ := range []buildv1.BuildTriggerType{
		buildv1.GitHubWebHookBuildTriggerType, buildv1.GenericWebHookBuildTriggerType,
		buildv1.GitLabWebHookBuildTriggerType, buildv1.BitbucketWebHookBuildTriggerType,
		buildv1.ImageChangeBuildTriggerType,
	} {
		e := structs[typ]
		switch {
		case typ == t.Type && !e.set:
			allErrs = append(allErrs, field.Required(fldPath.Child(e.name), fmt.Sprintf("must be set when type is %s", t.Type)))
		case typ != t.Type && e.set && t.Type != "":
			allErrs = append(allErrs, field.Forbidden(fldPath.Child(e.name), fmt.Sprintf("may not be set when type is %s", t.Type)))
		}
	}
	for typ, hook := range map[buildv1.BuildTriggerType]*buildv1.WebHookTrigger{
		buildv1.GitHubWebHookBuildTriggerType:    t.GitHubWebHook,
		buildv1.GenericWebHookBuildTriggerType:   t.GenericWebHook,
		buildv1.GitLabWebHookBuildTriggerType:    t.GitLabWebHook,
		buildv1.BitbucketWebHookBuildTriggerType: t.BitbucketWebHook,
	} {
		if hook != nil && typ == t.Type {
			allErrs = append(allErrs, validateWebHook(hook, typ == buildv1.GenericWebHookBuildTriggerType, fldPath.Child(structs[typ].name))...)
		}
	}
	if t.Type == buildv1.ImageChangeBuildTriggerType && t.ImageChange != nil {
		allErrs = append(allErrs, validateImageChangeTrigger(t.ImageChange, buildFrom, fldPath.Child("imageChange"))...)
	}
	return allErrs
}

func validateWebHook(h *buildv1.WebHookTrigger, isGeneric bool, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if h.Secret == "" && h.SecretReference == nil {
		allErrs = append(allErrs, field.Required(fldPath.Child("secretReference"), "must give secretReference (or the deprecated secret) to authenticate webhook calls"))
	}
	if h.SecretReference != nil && h.SecretReference.Name == "" {
		allErrs = append(allErrs, field.Required(fldPath.Child("secretReference", "name"), "must name the secret holding the webhook secret"))
	}
	if h.AllowEnv && !isGeneric {
		allErrs = append(allErrs, field.Forbidden(fldPath.Child("allowEnv"), "only generic webhooks may allow environment variables"))
	}
	return allErrs
}

func validateImageChangeTrigger(ic *buildv1.ImageChangeTrigger, buildFrom *corev1.ObjectReference, fldPath *field.Path) field.ErrorList {
	if ic.From == nil {
		if buildFrom == nil || buildFrom.Kind != kindImageStreamTag {
			return field.ErrorList{field.Required(fldPath.Child("from"),
				"must be set unless the strategy's builder image (from) is an ImageStreamTag")}
		}
		return nil
	}
	return validateImageReference(ic.From, triggerKinds, fldPath.Child("from"))
}

// validateEnv checks environment variable names.
func validateEnv(vars []corev1.EnvVar, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	for i, ev := range vars {
		p := fldPath.Index(i)
		if ev.Name == "" {
			allErrs = append(allErrs, field.Required(p.Child("name"), "must give the variable name"))
		} else if msgs := validation.IsEnvVarName(ev.Name); len(msgs) != 0 {
			allErrs = append(allErrs, field.Invalid(p.Child("name"), ev.Name, strings.Join(msgs, "; ")))
		}
		if ev.ValueFrom != nil && ev.ValueFrom.ResourceFieldRef != nil {
			allErrs = append(allErrs, field.Forbidden(p.Child("valueFrom", "resourceFieldRef"), "is not supported in build environment variables"))
		}
	}
	return allErrs
}

// validateVolumes checks build volumes: a DNS label name, exactly one source
// matching its type and absolute mount paths.
func validateVolumes(volumes []buildv1.BuildVolume, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	for i, v := range volumes {
		p := fldPath.Index(i)
		if v.Name == "" {
			allErrs = append(allErrs, field.Required(p.Child("name"), "must give the volume name"))
		} else {
			for _, msg := range validation.IsDNS1123Label(v.Name) {
				allErrs = append(allErrs, field.Invalid(p.Child("name"), v.Name, msg))
			}
		}
		allErrs = append(allErrs, validateVolumeSource(&v.Source, p.Child("source"))...)
		if len(v.Mounts) == 0 {
			allErrs = append(allErrs, field.Required(p.Child("mounts"), "must give at least one mount"))
		}
		for j, m := range v.Mounts {
			mp := p.Child("mounts").Index(j).Child("destinationPath")
			switch {
			case m.DestinationPath == "":
				allErrs = append(allErrs, field.Required(mp, "must give an absolute path"))
			case !path.IsAbs(m.DestinationPath) || strings.Contains(m.DestinationPath, ":") || strings.Contains(m.DestinationPath, ".."):
				allErrs = append(allErrs, field.Invalid(mp, m.DestinationPath, "must be an absolute path without ':' or '..'"))
			}
		}
	}
	return allErrs
}

func validateVolumeSource(src *buildv1.BuildVolumeSource, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	supported := []string{string(buildv1.BuildVolumeSourceTypeSecret), string(buildv1.BuildVolumeSourceTypeConfigMap), string(buildv1.BuildVolumeSourceTypeCSI)}
	var set []string
	if src.Secret != nil {
		set = append(set, string(buildv1.BuildVolumeSourceTypeSecret))
		if src.Secret.SecretName == "" {
			allErrs = append(allErrs, field.Required(fldPath.Child("secret", "secretName"), "must name the secret"))
		}
	}
	if src.ConfigMap != nil {
		set = append(set, string(buildv1.BuildVolumeSourceTypeConfigMap))
		if src.ConfigMap.Name == "" {
			allErrs = append(allErrs, field.Required(fldPath.Child("configMap", "name"), "must name the config map"))
		}
	}
	if src.CSI != nil {
		set = append(set, string(buildv1.BuildVolumeSourceTypeCSI))
		if src.CSI.Driver == "" {
			allErrs = append(allErrs, field.Required(fldPath.Child("csi", "driver"), "must name the CSI driver"))
		}
	}
	switch {
	case src.Type == "":
		allErrs = append(allErrs, field.Required(fldPath.Child("type"), fmt.Sprintf("must be one of %s", strings.Join(supported, ", "))))
	case !contains(supported, string(src.Type)):
		allErrs = append(allErrs, field.NotSupported(fldPath.Child("type"), src.Type, supported))
	case len(set) == 0 || !contains(set, string(src.Type)):
		allErrs = append(allErrs, field.Required(fldPath.Child(volumeSourceField(src.Type)), fmt.Sprintf("must be set when type is %s", src.Type)))
	}
	if len(set) > 1 {
		allErrs = append(allErrs, field.Invalid(fldPath, strings.Join(set, ","), "only one volume source may be set"))
	}
	return allErrs
}

func volumeSourceField(t buildv1.BuildVolumeSourceType) string {
	switch t {
	case buildv1.BuildVolumeSourceTypeSecret:
		return "secret"
	case buildv1.BuildVolumeSourceTypeConfigMap:
		return "configMap"
	default:
		return "csi"
	}
}

// validateResources checks resource names and that quantities are not
// negative and requests do not exceed limits.
func validateResources(r *corev1.ResourceRequirements, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	for _, name := range sortedResourceNames(r.Limits) {
		allErrs = append(allErrs, validateResourceQuantity(name, r.Limits[name], fldPath.Child("limits").Key(string(name)))...)
	}
	for _, name := range sortedResourceNames(r.Requests) {
		q := r.Requests[name]
		p := fldPath.Child("requests").Key(string(name))
		allErrs = append(allErrs, validateResourceQuantity(name, q, p)...)
		if l, ok := r.Limits[name]; ok && q.Cmp(l) > 0 {
			allErrs = append(allErrs, field.Invalid(p, q.String(), fmt.Sprintf("must be less than or equal to the %s limit %s", name, l.String())))
		}
	}
	return allErrs
}

func validateResourceQuantity(name corev1.ResourceName, q apiresource.Quantity, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	for _, msg := range validation.IsQualifiedName(string(name)) {
		allErrs = append(allErrs, field.Invalid(fldPath, string(name), "resource name "+msg))
	}
	if q.Sign() < 0 {
		allErrs = append(allErrs, field.Invalid(fldPath, q.String(), "must be greater than or equal to 0"))
	}
	return allErrs
}

func sortedResourceNames(l corev1.ResourceList) []corev1.ResourceName {
	names := make([]corev1.ResourceName, 0, len(l))
	for n := range l {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool { return names[i] < names[j] })
	return names
}

func validateLocalRef(ref *corev1.LocalObjectReference, fldPath *field.Path) field.ErrorList {
	if ref != nil && ref.Name == "" {
		return field.ErrorList{field.Required(fldPath.Child("name"), "must name the secret")}
	}
	return nil
}

func validateRelativePath(p string, fldPath *field.Path) field.ErrorList {
	if p == "" {
		return nil
	}
	if path.IsAbs(p) || escapes(p) {
		return field.ErrorList{field.Invalid(fldPath, p, "must be a relative path inside the source")}
	}
	return nil
}

func validateNonNegative32(v *int32, fldPath *field.Path) field.ErrorList {
	if v != nil && *v < 0 {
		return field.ErrorList{field.Invalid(fldPath, *v, "must be greater than or equal to 0")}
	}
	return nil
}

// escapes reports whether a relative path leaves its base directory.
func escapes(p string) bool {
	c := path.Clean(p)
	return c == ".." || strings.HasPrefix(c, "../")
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
