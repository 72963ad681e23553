package oauth

import (
	"html/template"
	"net/http"

	"k8s.io/klog/v2"

	"github.com/gantry-dev/gantry/internal/oauth/idp"
)

// The OAuth server's pages: plain HTML, no scripts (the Content-Security-Policy forbids them), every
// form with its CSRF token.
const pageTemplates = `
{{define "head"}}<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>{{.}} · Gantry</title><style>
body{font-family:system-ui,sans-serif;max-width:34em;margin:4em auto;padding:0 1em;color:#222}
h1{font-size:1.4em}label{display:block;margin:.8em 0 .2em}input[type=text],input[type=password]{width:100%;padding:.4em;box-sizing:border-box}
button{margin-top:1em;padding:.5em 1.2em}.error{color:#a00}code,pre{background:#f3f3f3;padding:.2em .4em;word-break:break-all;white-space:pre-wrap}
</style></head><body>{{end}}
{{define "foot"}}</body></html>{{end}}

{{define "login"}}{{template "head" "Log in"}}<h1>Log in to Gantry</h1>
{{if .Error}}<p class="error" role="alert">{{.Error}}</p>{{end}}
<form method="POST" action="/login/{{.Provider}}">
<input type="hidden" name="then" value="{{.Then}}"><input type="hidden" name="csrf" value="{{.CSRF}}">
<label for="username">User name</label><input type="text" id="username" name="username" autocomplete="username" autofocus required>
<label for="password">Password</label><input type="password" id="password" name="password" autocomplete="current-password" required>
<button type="submit">Log in</button></form>{{template "foot"}}{{end}}

{{define "select"}}{{template "head" "Log in"}}<h1>Log in with</h1><ul>
{{range .Providers}}<li><a href="/login/{{.Name}}?then={{$.Then}}">{{.Name}}</a></li>{{end}}
</ul>{{template "foot"}}{{end}}

{{define "approve"}}{{template "head" "Authorize access"}}<h1>Authorize access</h1>
<p>The application <strong>{{.Client}}</strong> asks for:</p><ul>{{range .Scopes}}<li><code>{{.}}</code></li>{{end}}</ul>
<form method="POST" action="/oauth/authorize/approve">
<input type="hidden" name="then" value="{{.Then}}"><input type="hidden" name="csrf" value="{{.CSRF}}">
<button type="submit" name="approve" value="1">Allow</button> <button type="submit" name="deny" value="1">Deny</button>
</form>{{template "foot"}}{{end}}

{{define "displayForm"}}{{template "head" "Display token"}}<h1>Your token is ready</h1>
<form method="POST" action="/oauth/token/display">
<input type="hidden" name="code" value="{{.Code}}"><input type="hidden" name="csrf" value="{{.CSRF}}">
<button type="submit">Display token</button></form>{{template "foot"}}{{end}}

{{define "display"}}{{template "head" "Your API token"}}<h1>Your API token is</h1><pre>{{.Token}}</pre>
<h2>Log in with this token</h2><pre>gantry login --token={{.Token}} --server={{.Server}}</pre>
<h2>Use this token directly against the API</h2><pre>curl -H "Authorization: Bearer {{.Token}}" "{{.Server}}/apis/user.openshift.io/v1/users/~"</pre>
<p><a href="/oauth/token/request">Request another token</a> · <a href="/logout">Log out</a></p>{{template "foot"}}{{end}}

{{define "message"}}{{template "head" .Title}}<h1{{if .Error}} class="error"{{end}}>{{.Title}}</h1><p>{{.Detail}}</p>{{template "foot"}}{{end}}
`

type pages struct{ t *template.Template }

func newPages() *pages { return &pages{t: template.Must(template.New("").Parse(pageTemplates))} }

func (p *pages) render(w http.ResponseWriter, status int, name string, data any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if err := p.t.ExecuteTemplate(w, name, data); err != nil {
		klog.ErrorS(err, "Render OAuth page", "page", name)
	}
}

func (p *pages) login(w http.ResponseWriter, status int, provider, then, csrf, errMsg string) {
	p.render(w, status, "login", map[string]string{"Provider": provider, "Then": then, "CSRF": csrf, "Error": errMsg})
}

func (p *pages) selectProvider(w http.ResponseWriter, providers []idp.Provider, then string) {
	p.render(w, http.StatusOK, "select", map[string]any{"Providers": providers, "Then": then})
}

func (p *pages) approve(w http.ResponseWriter, _ *http.Request, csrf, clientName string, scopes []string, then string) {
	p.render(w, http.StatusOK, "approve", map[string]any{"Client": clientName, "Scopes": scopes, "Then": then, "CSRF": csrf})
}

func (p *pages) displayForm(w http.ResponseWriter, code, csrf string) {
	p.render(w, http.StatusOK, "displayForm", map[string]string{"Code": code, "CSRF": csrf})
}

func (p *pages) display(w http.ResponseWriter, token, server string) {
	p.render(w, http.StatusOK, "display", map[string]string{"Token": token, "Server": server})
}

func (p *pages) message(w http.ResponseWriter, status int, title, detail string) {
	p.render(w, status, "message", map[string]any{"Title": title, "Detail": detail})
}

func (p *pages) error(w http.ResponseWriter, status int, title, detail string) {
	p.render(w, status, "message", map[string]any{"Title": title, "Detail": detail, "Error": true})
}
