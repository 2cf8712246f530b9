// A stand-in for Telegraf, which is not packaged for Debian: what its
// prometheus input with metric_version = 2 stores for a Prometheus text
// exposition, built from the same parts Telegraf uses. Prometheus's expfmt
// parses the text, each sample becomes a point of measurement "prometheus"
// (labels as tags sorted by key, one float field named after the metric; a
// histogram as a _count/_sum point and a _bucket point per bound with le in
// Go's %g, +Inf added when missing; NaN samples dropped), and InfluxData's
// line-protocol encoder writes it, with trailing backslashes cut from tag
// values as Telegraf's serializer cuts them.
//
// Usage: telegraf-v2 NANOSECONDS < exposition.txt > points.lp
// Builds in GOPATH mode against Debian's golang-github-prometheus-common-dev
// and golang-github-influxdata-line-protocol-dev.
package main

import (
	"bufio"
	"fmt"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	protocol "github.com/influxdata/line-protocol"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

type point struct {
	tags   []*protocol.Tag
	fields []*protocol.Field
	at     time.Time
}

func (p point) Time() time.Time              { return p.at }
func (p point) Name() string                 { return "prometheus" }
func (p point) TagList() []*protocol.Tag     { return p.tags }
func (p point) FieldList() []*protocol.Field { return p.fields }

func tags(metric *dto.Metric, le string) []*protocol.Tag {
	values := map[string]string{}
	for _, label := range metric.Label {
		values[label.GetName()] = label.GetValue()
	}
	if le != "" {
		values["le"] = le
	}
	keys := make([]string, 0, len(values))
	for key := range values {
		keys = append(keys, key)
	}
	sort.Strings(keys)
	list := make([]*protocol.Tag, 0, len(keys))
	for _, key := range keys {
		list = append(list, &protocol.Tag{Key: key, Value: strings.TrimRight(values[key], `\`)})
	}
	return list
}

func field(key string, value float64) *protocol.Field {
	return &protocol.Field{Key: key, Value: value}
}

func main() {
	nanos, err := strconv.ParseInt(os.Args[1], 10, 64)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	at := time.Unix(0, nanos)
	var parser expfmt.TextParser
	families, err := parser.TextToMetricFamilies(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	encoder := protocol.NewEncoder(out)
	// Points without a field that can be written (an infinite value) are left out, as Telegraf leaves them.
	write := func(p point) { _, _ = encoder.Encode(p) }
	for name, family := range families {
		for _, metric := range family.Metric {
			if family.GetType() == dto.MetricType_HISTOGRAM {
				histogram := metric.GetHistogram()
				write(point{tags(metric, ""), []*protocol.Field{field(name+"_count", float64(histogram.GetSampleCount())), field(name+"_sum", histogram.GetSampleSum())}, at})
				infinite := false
				for _, bucket := range histogram.Bucket {
					le := strconv.FormatFloat(bucket.GetUpperBound(), 'g', -1, 64)
					write(point{tags(metric, le), []*protocol.Field{field(name+"_bucket", float64(bucket.GetCumulativeCount()))}, at})
					infinite = infinite || math.IsInf(bucket.GetUpperBound(), 1)
				}
				if !infinite {
					write(point{tags(metric, "+Inf"), []*protocol.Field{field(name+"_bucket", float64(histogram.GetSampleCount()))}, at})
				}
				continue
			}
			value := math.NaN()
			switch {
			case metric.Gauge != nil:
				value = metric.Gauge.GetValue()
			case metric.Counter != nil:
				value = metric.Counter.GetValue()
			case metric.Untyped != nil:
				value = metric.Untyped.GetValue()
			}
			if !math.IsNaN(value) {
				write(point{tags(metric, ""), []*protocol.Field{field(name, value)}, at})
			}
		}
	}
}
