package resource

import (
	_ "github.com/openshift/api/openapi/generated_openapi"
	_ "github.com/openshift/client-go/route/clientset/versioned"
	_ "github.com/openshift/library-go/pkg/route/defaulting"
	_ "github.com/openshift/library-go/pkg/route/hostassignment"
	_ "github.com/openshift/library-go/pkg/route/validation"
	_ "github.com/openshift/library-go/pkg/template/templateprocessing"
	_ "github.com/openshift/library-go/pkg/image/reference"
)
