package oauth

import (
	"context"
	"fmt"
	"time"

	oauthv1 "github.com/openshift/api/oauth/v1"
	userv1 "github.com/openshift/api/user/v1"
	oauthclientset "github.com/openshift/client-go/oauth/clientset/versioned"
	oauthinformers "github.com/openshift/client-go/oauth/informers/externalversions"
	userclientset "github.com/openshift/client-go/user/clientset/versioned"
	userinformers "github.com/openshift/client-go/user/informers/externalversions"
	"github.com/openshift/library-go/pkg/oauth/usercache"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	toolscache "k8s.io/client-go/tools/cache"
)

const byAuthorizeToken = "authorizeToken"

// cache watches access tokens, users and groups, so that authenticating a request usually costs no
// API call. A miss falls back to the API: a token is used right after it is issued.
type cache struct {
	oauth  oauthclientset.Interface
	users  userclientset.Interface
	tokens toolscache.SharedIndexInformer
	user   toolscache.SharedIndexInformer
	groups *usercache.GroupCache
	start  func(<-chan struct{})
	synced []toolscache.InformerSynced
}

func newCache(oauth oauthclientset.Interface, users userclientset.Interface) (*cache, error) {
	of := oauthinformers.NewSharedInformerFactory(oauth, 10*time.Minute)
	uf := userinformers.NewSharedInformerFactory(users, 10*time.Minute)
	c := &cache{oauth: oauth, users: users}
	c.tokens = of.Oauth().V1().OAuthAccessTokens().Informer()
	if err := c.tokens.AddIndexers(toolscache.Indexers{byAuthorizeToken: func(obj interface{}) ([]string, error) {
		if t, ok := obj.(*oauthv1.OAuthAccessToken); ok && t.AuthorizeToken != "" {
			return []string{t.AuthorizeToken}, nil
		}
		return nil, nil
	}}); err != nil {
		return nil, err
	}
	c.user = uf.User().V1().Users().Informer()
	gi := uf.User().V1().Groups()
	if err := gi.Informer().AddIndexers(toolscache.Indexers{usercache.ByUserIndexName: usercache.ByUserIndexKeys}); err != nil {
		return nil, err
	}
	c.groups = usercache.NewGroupCache(gi)
	c.synced = []toolscache.InformerSynced{c.tokens.HasSynced, c.user.HasSynced, gi.Informer().HasSynced}
	c.start = func(stop <-chan struct{}) { of.Start(stop); uf.Start(stop) }
	return c, nil
}

// run starts the informers and waits for their first lists.
func (c *cache) run(ctx context.Context) error {
	c.start(ctx.Done())
	if !toolscache.WaitForCacheSync(ctx.Done(), c.synced...) {
		return fmt.Errorf("OAuth server: caches of tokens, users and groups did not sync: %w", ctx.Err())
	}
	return nil
}

func (c *cache) issuedFrom(authorizeTokenName string) []*oauthv1.OAuthAccessToken {
	objs, _ := c.tokens.GetIndexer().ByIndex(byAuthorizeToken, authorizeTokenName)
	out := make([]*oauthv1.OAuthAccessToken, 0, len(objs))
	for _, o := range objs {
		out = append(out, o.(*oauthv1.OAuthAccessToken))
	}
	return out
}

func (c *cache) token(ctx context.Context, name string) (*oauthv1.OAuthAccessToken, error) {
	if o, ok, _ := c.tokens.GetIndexer().GetByKey(name); ok {
		return o.(*oauthv1.OAuthAccessToken), nil
	}
	return c.oauth.OauthV1().OAuthAccessTokens().Get(ctx, name, metav1.GetOptions{})
}

func (c *cache) userByName(ctx context.Context, name string) (*userv1.User, error) {
	if o, ok, _ := c.user.GetIndexer().GetByKey(name); ok {
		return o.(*userv1.User), nil
	}
	return c.users.UserV1().Users().Get(ctx, name, metav1.GetOptions{})
}

// groupsOf lists the names of the Groups that have user as a member.
func (c *cache) groupsOf(user string) ([]string, error) {
	gs, err := c.groups.GroupsFor(user)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(gs))
	for _, g := range gs {
		names = append(names, g.Name)
	}
	return names, nil
}
