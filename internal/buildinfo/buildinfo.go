// Package buildinfo says which rowgate is running: the module version, the
// VCS revision it was built from, whether the tree had local changes, and
// the Go version. It reads the build information the Go toolchain embeds
// (runtime/debug.ReadBuildInfo); a build without a .git folder, such as a
// container build, supplies the version and revision with the linker:
//
//	go build -ldflags "-X github.com/rowgate/rowgate/internal/buildinfo.version=v1.2.3 \
//	  -X github.com/rowgate/rowgate/internal/buildinfo.revision=$(git rev-parse HEAD)" ./cmd/rowgate
package buildinfo

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"sync"
)

// Set with -ldflags -X; empty means "take it from the build information".
var (
	version  string
	revision string
)

// Unknown stands for a revision nobody recorded.
const Unknown = "unknown"

// Info describes one build.
type Info struct {
	// Version is the linker's version if set, else the main module's
	// version ("v1.2.3", a pseudo-version, or "(devel)" for a source tree).
	Version string
	// Revision is the linker's revision if set, else vcs.revision from the
	// build information, else Unknown.
	Revision string
	// Modified reports vcs.modified: the tree had uncommitted changes.
	Modified bool
	// GoVersion is the toolchain that built the binary ("go1.26.8").
	GoVersion string
}

// Read returns this binary's Info. It never fails: what the build did not
// record reads "(devel)" or Unknown.
var Read = sync.OnceValue(func() Info {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		bi = nil
	}
	return resolve(bi, version, revision)
})

// resolve merges the linker's values (which win when set) with bi, which
// may be nil.
func resolve(bi *debug.BuildInfo, version, revision string) Info {
	info := Info{Version: version, Revision: revision, GoVersion: runtime.Version()}
	if bi == nil {
		bi = &debug.BuildInfo{}
	}
	if bi.GoVersion != "" {
		info.GoVersion = bi.GoVersion
	}
	if info.Version == "" {
		info.Version = bi.Main.Version
	}
	if info.Version == "" {
		info.Version = "(devel)"
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			if info.Revision == "" {
				info.Revision = s.Value
			}
		case "vcs.modified":
			info.Modified = s.Value == "true"
		}
	}
	if info.Revision == "" {
		info.Revision = Unknown
	}
	return info
}

// String is the one line `rowgate version` prints, as key=value pairs.
func (i Info) String() string {
	return fmt.Sprintf("rowgate version=%s revision=%s modified=%t go=%s", i.Version, i.Revision, i.Modified, i.GoVersion)
}
