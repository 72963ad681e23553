package apiserver

import (
	"testing"

	restful "github.com/emicklei/go-restful/v3"
)

func TestUniqueOperationIDsAppendTheResourceOnACollision(t *testing.T) {
	t.Parallel()
	same := func(*restful.Route) (string, []string, error) {
		return "createTemplateOpenshiftIoV1NamespacedTemplate", nil, nil
	}
	f := uniqueOperationIDs(same)
	first, _, _ := f(&restful.Route{Path: "/apis/template.openshift.io/v1/namespaces/{namespace}/templates"})
	second, _, _ := f(&restful.Route{Path: "/apis/template.openshift.io/v1/namespaces/{namespace}/processedtemplates"})
	again, _, _ := f(&restful.Route{Path: "/apis/template.openshift.io/v1/namespaces/{namespace}/templates"})
	if first != "createTemplateOpenshiftIoV1NamespacedTemplate" || again != first {
		t.Errorf("first path: %q then %q, want the upstream ID both times", first, again)
	}
	if second != first+"ForProcessedtemplates" {
		t.Errorf("colliding path: %q", second)
	}
}
