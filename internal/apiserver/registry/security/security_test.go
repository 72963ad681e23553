package security

import (
	"context"
	"github.com/gantry-dev/gantry/internal/apiserver/registry/resource/resourcetest"
	"testing"

	securityv1 "github.com/openshift/api/security/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

var ctx = context.Background()

func int32p(v int32) *int32 { return &v }
func int64p(v int64) *int64 { return &v }

func restricted() *securityv1.SecurityContextConstraints {
	return &securityv1.SecurityContextConstraints{
		ObjectMeta:               metav1.ObjectMeta{Name: "restricted"},
		RequiredDropCapabilities: []corev1.Capability{"KILL", "MKNOD", "SETUID", "SETGID"},
		RunAsUser:                securityv1.RunAsUserStrategyOptions{Type: securityv1.RunAsUserStrategyMustRunAsRange},
		SELinuxContext:           securityv1.SELinuxContextStrategyOptions{Type: securityv1.SELinuxStrategyMustRunAs},
		FSGroup:                  securityv1.FSGroupStrategyOptions{Type: securityv1.FSGroupStrategyMustRunAs},
		SupplementalGroups:       securityv1.SupplementalGroupsStrategyOptions{Type: securityv1.SupplementalGroupsStrategyRunAsAny},
		Volumes:                  []securityv1.FSType{"configMap", "downwardAPI", "emptyDir", "persistentVolumeClaim", "projected", "secret"},
		Groups:                   []string{"system:authenticated"},
	}
}

func TestSCCValid(t *testing.T) {
	t.Parallel()
	d := sccDefinition()
	anyuid := restricted()
	anyuid.Name = "anyuid"
	anyuid.Priority = int32p(10)
	anyuid.RunAsUser = securityv1.RunAsUserStrategyOptions{Type: securityv1.RunAsUserStrategyRunAsAny}
	anyuid.FSGroup = securityv1.FSGroupStrategyOptions{}
	anyuid.SupplementalGroups = securityv1.SupplementalGroupsStrategyOptions{}
	anyuid.AllowedCapabilities = []corev1.Capability{"NET_BIND_SERVICE"}
	anyuid.FSGroup.Ranges = []securityv1.IDRange{{Min: 1000, Max: 2000}}
	for _, scc := range []*securityv1.SecurityContextConstraints{restricted(), anyuid} {
		d.Default(scc)
		resourcetest.AssertErrors(t, d.Validate(ctx, scc), nil)
	}
	if anyuid.FSGroup.Type != securityv1.FSGroupStrategyRunAsAny || anyuid.SupplementalGroups.Type != securityv1.SupplementalGroupsStrategyRunAsAny {
		t.Errorf("group strategies not defaulted: %+v %+v", anyuid.FSGroup, anyuid.SupplementalGroups)
	}
	r := restricted()
	d.Default(r)
	if r.FSGroup.Type != securityv1.FSGroupStrategyMustRunAs {
		t.Errorf("user-set fsGroup type overwritten: %q", r.FSGroup.Type)
	}
}

func TestSCCInvalidReportsAll(t *testing.T) {
	t.Parallel()
	d := sccDefinition()
	scc := restricted()
	scc.Priority = int32p(-1)
	scc.RunAsUser = securityv1.RunAsUserStrategyOptions{Type: "MustRunAsRoot", UIDRangeMin: int64p(2000), UIDRangeMax: int64p(1000)}
	scc.SELinuxContext.Type = ""
	scc.FSGroup = securityv1.FSGroupStrategyOptions{Type: "Sometimes", Ranges: []securityv1.IDRange{{Min: 5, Max: 1}, {Min: -1, Max: 3}}}
	scc.SupplementalGroups.Type = "Never"
	scc.AllowedCapabilities = []corev1.Capability{"KILL"}
	scc.Volumes = []securityv1.FSType{"none", "secret"}
	scc.AllowedUnsafeSysctls = []string{"Kernel.BAD"}
	resourcetest.AssertErrors(t, d.Validate(ctx, scc), []string{
		"FieldValueInvalid priority",
		"FieldValueNotSupported runAsUser.type",
		"FieldValueInvalid runAsUser.uidRangeMin",
		"FieldValueRequired seLinuxContext.type",
		"FieldValueNotSupported fsGroup.type",
		"FieldValueInvalid fsGroup.ranges[0].min",
		"FieldValueInvalid fsGroup.ranges[1].min",
		"FieldValueNotSupported supplementalGroups.type",
		"FieldValueInvalid allowedCapabilities[0]",
		"FieldValueInvalid volumes[0]",
		"FieldValueInvalid allowedUnsafeSysctls[0]",
	})

	mustRunAs := restricted()
	mustRunAs.RunAsUser = securityv1.RunAsUserStrategyOptions{Type: securityv1.RunAsUserStrategyMustRunAs, UID: int64p(-5)}
	resourcetest.AssertErrors(t, d.Validate(ctx, mustRunAs), []string{"FieldValueInvalid runAsUser.uid"})
}

func TestSCCTable(t *testing.T) {
	t.Parallel()
	d := sccDefinition()
	scc := restricted()
	resourcetest.AssertRow(t, d, scc, "restricted", false, "<no value>", "MustRunAs", "MustRunAsRange", "MustRunAs", "RunAsAny",
		"<none>", false, "configMap,downwardAPI,emptyDir,persistentVolumeClaim,projected,secret")
	priv := restricted()
	priv.Name = "privileged"
	priv.AllowPrivilegedContainer = true
	priv.AllowedCapabilities = []corev1.Capability{"*"}
	priv.RequiredDropCapabilities = nil
	priv.Priority = int32p(5)
	priv.ReadOnlyRootFilesystem = true
	priv.Volumes = []securityv1.FSType{"*"}
	resourcetest.AssertRow(t, d, priv, "privileged", true, "*", "MustRunAs", "MustRunAsRange", "MustRunAs", "RunAsAny", "5", true, "*")
}

func TestRangeAllocation(t *testing.T) {
	t.Parallel()
	d := rangeAllocationDefinition()
	r := &securityv1.RangeAllocation{ObjectMeta: metav1.ObjectMeta{Name: "scc-uid"}, Range: "1000000000-1999999999/10000", Data: []byte{1, 2}}
	resourcetest.AssertErrors(t, d.Validate(ctx, r), nil)
	resourcetest.AssertErrors(t, d.Validate(ctx, &securityv1.RangeAllocation{}), []string{"FieldValueRequired range"})
	moved := r.DeepCopy()
	moved.Range = "0-10/1"
	resourcetest.AssertErrors(t, d.ValidateUpdate(ctx, moved, r), []string{"FieldValueForbidden range"})
	resourcetest.AssertRow(t, d, r, "scc-uid", "1000000000-1999999999/10000", "2 bytes", "<unknown>")
}

func TestGroup(t *testing.T) {
	t.Parallel()
	g := Group()
	s := runtime.NewScheme()
	if err := g.Install(s); err != nil {
		t.Fatal(err)
	}
	for _, d := range g.Resources {
		if d.Namespaced {
			t.Errorf("%s is namespaced", d.Resource)
		}
		if _, _, err := s.ObjectKinds(d.New()); err != nil {
			t.Error(err)
		}
	}
	if g.Resources[0].ShortNames[0] != "scc" {
		t.Errorf("short names = %v", g.Resources[0].ShortNames)
	}
}
