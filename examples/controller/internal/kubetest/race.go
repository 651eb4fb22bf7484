//go:build race

package kubetest

const raceEnabled = true
