package oauth

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	oauthv1 "github.com/openshift/api/oauth/v1"
	oauthclient "github.com/openshift/client-go/oauth/clientset/versioned/typed/oauth/v1"
	"github.com/openshift/osin"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/klog/v2"
)

// grant is what an authorization code or token carries about its user (osin's UserData).
type grant struct {
	UserName, UserUID string
}

// storage keeps osin's codes and tokens as oauth.openshift.io objects, named by the SHA-256 of the
// secret (ObjectName), so the API server is the only state and several OAuth servers can share it.
type storage struct {
	api     oauthclient.OauthV1Interface
	tokens  *cache
	timeout time.Duration
}

var _ osin.Storage = (*storage)(nil)

func (s *storage) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), s.timeout)
}

func (s *storage) Clone() osin.Storage { return s }
func (s *storage) Close()              {}

func (s *storage) GetClient(id string) (osin.Client, error) {
	if id == "" {
		return nil, osin.ErrNotFound
	}
	ctx, cancel := s.ctx()
	defer cancel()
	c, err := s.api.OAuthClients().Get(ctx, id, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, osin.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return client{c}, nil
}

func scopes(s string) []string { return strings.Fields(s) }

func (s *storage) SaveAuthorize(d *osin.AuthorizeData) error {
	g, ok := d.UserData.(grant)
	if !ok {
		return fmt.Errorf("authorization code without a user")
	}
	ctx, cancel := s.ctx()
	defer cancel()
	_, err := s.api.OAuthAuthorizeTokens().Create(ctx, &oauthv1.OAuthAuthorizeToken{
		ObjectMeta:          metav1.ObjectMeta{Name: ObjectName(d.Code)},
		ClientName:          d.Client.GetId(),
		ExpiresIn:           int64(d.ExpiresIn),
		Scopes:              scopes(d.Scope),
		RedirectURI:         d.RedirectUri,
		State:               d.State,
		UserName:            g.UserName,
		UserUID:             g.UserUID,
		CodeChallenge:       d.CodeChallenge,
		CodeChallengeMethod: d.CodeChallengeMethod,
	}, metav1.CreateOptions{})
	return err
}

// errCodeReplayed is returned when a code that was already exchanged comes back: RFC 6749 10.5 says
// the tokens issued from it should be revoked, and they are.
var errCodeReplayed = errors.New("authorization code was already used; the tokens issued from it are revoked")

func (s *storage) LoadAuthorize(code string) (*osin.AuthorizeData, error) {
	ctx, cancel := s.ctx()
	defer cancel()
	name := ObjectName(code)
	t, err := s.api.OAuthAuthorizeTokens().Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		if n := s.revokeIssuedFrom(ctx, name); n > 0 {
			return nil, errCodeReplayed
		}
		return nil, osin.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	c, err := s.GetClient(t.ClientName)
	if err != nil {
		return nil, err
	}
	return &osin.AuthorizeData{
		Client:              c,
		Code:                code,
		ExpiresIn:           int32(t.ExpiresIn),
		Scope:               strings.Join(t.Scopes, " "),
		RedirectUri:         t.RedirectURI,
		State:               t.State,
		CreatedAt:           t.CreationTimestamp.Time,
		UserData:            grant{UserName: t.UserName, UserUID: t.UserUID},
		CodeChallenge:       t.CodeChallenge,
		CodeChallengeMethod: t.CodeChallengeMethod,
	}, nil
}

// revokeIssuedFrom deletes the access tokens issued from the authorization code stored as name.
func (s *storage) revokeIssuedFrom(ctx context.Context, name string) int {
	n := 0
	for _, t := range s.tokens.issuedFrom(name) {
		if err := s.api.OAuthAccessTokens().Delete(ctx, t.Name, metav1.DeleteOptions{}); err == nil || apierrors.IsNotFound(err) {
			n++
		} else {
			klog.ErrorS(err, "Revoke a token issued from a replayed authorization code", "user", t.UserName)
		}
	}
	if n > 0 {
		klog.InfoS("An authorization code was used twice: revoked the tokens issued from it", "count", n)
	}
	return n
}

// consumeAuthorize deletes the stored code; of two concurrent exchanges of one code only one can
// succeed, because the API server deletes an object once.
func (s *storage) consumeAuthorize(code string) error {
	ctx, cancel := s.ctx()
	defer cancel()
	err := s.api.OAuthAuthorizeTokens().Delete(ctx, ObjectName(code), metav1.DeleteOptions{})
	if apierrors.IsNotFound(err) {
		return errCodeReplayed
	}
	return err
}

func (s *storage) RemoveAuthorize(code string) error {
	ctx, cancel := s.ctx()
	defer cancel()
	err := s.api.OAuthAuthorizeTokens().Delete(ctx, ObjectName(code), metav1.DeleteOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

func (s *storage) SaveAccess(d *osin.AccessData) error {
	g, ok := d.UserData.(grant)
	if !ok {
		return fmt.Errorf("access token without a user")
	}
	t := &oauthv1.OAuthAccessToken{
		ObjectMeta:  metav1.ObjectMeta{Name: ObjectName(d.AccessToken)},
		ClientName:  d.Client.GetId(),
		ExpiresIn:   int64(d.ExpiresIn),
		Scopes:      scopes(d.Scope),
		RedirectURI: d.RedirectUri,
		UserName:    g.UserName,
		UserUID:     g.UserUID,
	}
	if d.AuthorizeData != nil {
		t.AuthorizeToken = ObjectName(d.AuthorizeData.Code)
	}
	ctx, cancel := s.ctx()
	defer cancel()
	_, err := s.api.OAuthAccessTokens().Create(ctx, t, metav1.CreateOptions{})
	return err
}

// Gantry's tokens are only ever presented to the API (through the token-review webhook), never
// loaded back by osin, and there are no refresh tokens (as in OpenShift).
func (s *storage) LoadAccess(string) (*osin.AccessData, error)  { return nil, osin.ErrNotFound }
func (s *storage) RemoveAccess(string) error                    { return nil }
func (s *storage) LoadRefresh(string) (*osin.AccessData, error) { return nil, osin.ErrNotFound }
func (s *storage) RemoveRefresh(string) error                   { return nil }
