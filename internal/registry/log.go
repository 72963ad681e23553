package registry

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/sirupsen/logrus"
	"k8s.io/klog/v2"
)

var routeLogrusOnce sync.Once

// routeLogrusToKlog sends logrus' standard logger, which distribution logs through, to klog
// instead of stderr. It takes effect once per process.
func routeLogrusToKlog() {
	routeLogrusOnce.Do(func() {
		std := logrus.StandardLogger()
		std.SetOutput(io.Discard)
		std.AddHook(klogHook{})
	})
}

// klogHook forwards logrus entries to klog: errors and worse as errors, warnings as warnings,
// info at verbosity 4. distribution logs every response it completes, and those that carry an
// API error (such as the 404 answering a client's check for a blob it is about to push) at error
// level: such request logs are errors only for 5xx statuses, otherwise verbosity 4 like any
// other response. Debug and trace entries are not produced at logrus' default level.
type klogHook struct{}

func (klogHook) Levels() []logrus.Level { return logrus.AllLevels }

func (klogHook) Fire(e *logrus.Entry) error {
	err, _ := e.Data[logrus.ErrorKey].(error)
	kv := keysAndValues(e.Data, err != nil)
	status, isResponse := e.Data["http.response.status"].(int)
	switch {
	case e.Level <= logrus.ErrorLevel && (!isResponse || status >= 500):
		klog.ErrorS(err, e.Message, kv...)
	case e.Level == logrus.WarnLevel:
		// klog has no structured warning call: render the fields like InfoS would.
		var b strings.Builder
		b.WriteString(e.Message)
		if err != nil {
			fmt.Fprintf(&b, " err=%q", err.Error())
		}
		for i := 0; i < len(kv); i += 2 {
			fmt.Fprintf(&b, " %s=%q", kv[i], fmt.Sprint(kv[i+1]))
		}
		klog.Warning(b.String())
	default:
		if v := klog.V(4); v.Enabled() {
			if err != nil {
				kv = append(kv, "err", err)
			}
			v.InfoS(e.Message, kv...)
		}
	}
	return nil
}

// keysAndValues flattens logrus fields into klog's alternating key/value form, sorted by key,
// leaving out the error field when it is reported separately. distribution's "go.version" field,
// attached to every entry, is dropped.
func keysAndValues(fields logrus.Fields, skipError bool) []any {
	kv := make([]any, 0, 2*len(fields))
	for _, k := range slices.Sorted(maps.Keys(fields)) {
		if k == "go.version" || (skipError && k == logrus.ErrorKey) {
			continue
		}
		kv = append(kv, k, fields[k])
	}
	return kv
}
