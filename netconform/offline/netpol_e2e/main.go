// Written by netconform's builder: the Kubernetes NetworkPolicy e2e tests
// (test/e2e/network/netpol) as one program, without the rest of e2e.test.
// Flags are e2e.test's own (--kubeconfig, --ginkgo.focus, --ginkgo.junit-report, ...).
package main

import (
	"flag"
	"os"

	"github.com/onsi/ginkgo/v2"
	"github.com/onsi/gomega"
	"k8s.io/kubernetes/test/e2e/framework"
	"k8s.io/kubernetes/test/e2e/framework/config"
	_ "k8s.io/kubernetes/test/e2e/framework/debug/init"
	_ "k8s.io/kubernetes/test/e2e/network/netpol"
)

// failed stands in for testing.T: ginkgo only calls Fail on it.
type failed bool

func (f *failed) Fail() { *f = true }

func main() {
	config.CopyFlags(config.Flags, flag.CommandLine)
	framework.RegisterCommonFlags(flag.CommandLine)
	framework.RegisterClusterFlags(flag.CommandLine)
	flag.Parse()
	framework.AfterReadingAllFlags(&framework.TestContext)
	gomega.RegisterFailHandler(framework.Fail)
	suiteConfig, reporterConfig := framework.CreateGinkgoConfig()
	var t failed
	if !ginkgo.RunSpecs(&t, "Kubernetes NetworkPolicy e2e", suiteConfig, reporterConfig) || bool(t) {
		os.Exit(1)
	}
}
