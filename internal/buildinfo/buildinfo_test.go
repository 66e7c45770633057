package buildinfo

import (
	"runtime"
	"runtime/debug"
	"testing"
)

func TestResolve(t *testing.T) {
	t.Parallel()
	vcs := &debug.BuildInfo{
		GoVersion: "go1.26.8",
		Main:      debug.Module{Path: "github.com/rowgate/rowgate", Version: "v1.2.3"},
		Settings: []debug.BuildSetting{
			{Key: "-trimpath", Value: "true"},
			{Key: "vcs.revision", Value: "0123456789abcdef0123456789abcdef01234567"},
			{Key: "vcs.modified", Value: "true"},
		},
	}
	noVCS := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/rowgate/rowgate", Version: "(devel)"}}
	tests := []struct {
		name              string
		bi                *debug.BuildInfo
		version, revision string
		want              Info
	}{
		{"FromBuildInfo", vcs, "", "",
			Info{"v1.2.3", "0123456789abcdef0123456789abcdef01234567", true, "go1.26.8"}},
		{"LinkerWins", vcs, "v9.9.9", "feedface",
			Info{"v9.9.9", "feedface", true, "go1.26.8"}},
		{"ContainerBuild", noVCS, "v1.0.0", "abc123",
			Info{"v1.0.0", "abc123", false, "go1.26.8"}},
		{"NothingRecorded", noVCS, "", "",
			Info{"(devel)", Unknown, false, "go1.26.8"}},
		{"NoBuildInfo", nil, "", "",
			Info{"(devel)", Unknown, false, runtime.Version()}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := resolve(tt.bi, tt.version, tt.revision); got != tt.want {
				t.Errorf("resolve = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestString(t *testing.T) {
	t.Parallel()
	got := Info{"v1.2.3", "abc", true, "go1.26.8"}.String()
	if want := "rowgate version=v1.2.3 revision=abc modified=true go=go1.26.8"; got != want {
		t.Errorf("String = %q, want %q", got, want)
	}
}
