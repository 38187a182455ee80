// Command modproxy writes a file-based GOPROXY (the layout `GOPROXY=file:///dir` reads) holding
// modules of this repository at one version, so they can be fetched from outside the workspace
// exactly as another team would fetch a release:
//
//	go run ./scripts/modproxy -out /tmp/proxy -version v0.1.0 pkg/consume pkg/consumer proto
//
// For each module directory it writes <path>/@v/<version>.{zip,mod,info} and appends the
// version to <path>/@v/list. The zip is made by golang.org/x/mod/zip, which leaves out nested
// modules (for example pkg/consumer/integration) the way a module zip from a VCS tag would.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/hookline/hookline/scripts/modproxy/proxy"
)

func main() {
	out := flag.String("out", "", "directory to write the proxy into (created)")
	version := flag.String("version", "v0.1.0", "version to publish every module at")
	flag.Parse()
	if *out == "" || flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: modproxy -out DIR [-version vX.Y.Z] MODULE_DIR...")
		os.Exit(2)
	}
	for _, dir := range flag.Args() {
		path, err := proxy.Write(*out, dir, *version)
		if err != nil {
			fmt.Fprintln(os.Stderr, "modproxy:", err)
			os.Exit(1)
		}
		fmt.Printf("%s@%s\n", path, *version)
	}
}
