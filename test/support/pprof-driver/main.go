// pprof as upstream (github.com/google/pprof) ships it: its driver with its
// own fetcher, which fetches with -tls_cert, -tls_key and -tls_ca. `go tool
// pprof` is this same driver, but the Go distribution gives it a fetcher of
// its own (src/cmd/pprof/pprof.go) that takes none of those three flags: it
// cannot present a client certificate, nor trust a CA but the system's
// (SSL_CERT_FILE). The driver is the copy vendored in the Go distribution
// (GOROOT/src/cmd/vendor), built in GOPATH mode: see buildPprofDriver in
// ../pprof.ts.
package main

import (
	"fmt"
	"os"

	"github.com/google/pprof/driver"
)

func main() {
	if err := driver.PProf(&driver.Options{}); err != nil {
		fmt.Fprintf(os.Stderr, "%v\n", err)
		os.Exit(2)
	}
}
