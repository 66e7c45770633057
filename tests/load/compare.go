package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"
)

// compareConfig is how -compare alternates the two binaries.
type compareConfig struct {
	rounds   int
	round    time.Duration // measured per side per round
	warmup   time.Duration // driven but not measured, before every measured span
	minRatio float64       // the verdict fails below this median new/old
}

// side is one of the two binaries under comparison: a server process that
// runs for the whole comparison, and its own workers.
type side struct {
	name string // "old" or "new"
	proc *proc
	dr   *driver
}

// oldFirst gives the ABBA order of round i: old new, new old, new old,
// old new, then again. A machine whose speed drifts during the run slows
// or speeds both sides alike.
func oldFirst(i int) bool { r := i % 4; return r == 0 || r == 3 }

// compareRound is one round: a measured span of each side, one after the other.
type compareRound struct {
	oldFirst bool
	old, new *result
}

// throughput is the requests per second a span measured, all operations
// together (with -mix list=100, the list endpoint's).
func throughput(r *result) float64 { return float64(r.total()) / r.elapsed.Seconds() }

// cpuPerRequest is the server's CPU time per request in a span.
func cpuPerRequest(r *result) time.Duration { return r.serverCPU / time.Duration(max(1, r.total())) }

// ratio is the round's new/old throughput.
func (cr compareRound) ratio() float64 { return throughput(cr.new) / throughput(cr.old) }

// cpuRatio is the round's new/old server CPU per request.
func (cr compareRound) cpuRatio() float64 {
	return float64(cpuPerRequest(cr.new)) / float64(max(1, cpuPerRequest(cr.old)))
}

// compareVerdict is the verdict line over the rounds' new/old ratios and
// whether it passes: the median ratio must be at least limit. The median
// of paired rounds ignores the rounds a neighbour's burst spoiled.
func compareVerdict(what string, ratios []float64, limit float64) (string, bool) {
	if len(ratios) == 0 {
		return what + " throughput new/old: no rounds", false
	}
	r := median(ratios)
	return fmt.Sprintf("%s throughput new/old = %.3f (limit %.2f)", what, r, limit), r >= limit
}

// cycles merges the rounds of each ABBA cycle (four rounds; a last, shorter
// cycle too) into one: over a whole cycle a drift linear in time cancels,
// and the machine's load, which changes over seconds to minutes, makes
// neighbouring rounds alike, so cycles are closer to independent samples.
func cycles(rounds []compareRound) []compareRound {
	var out []compareRound
	for i := 0; i < len(rounds); i += 4 {
		var olds, news []*result
		for _, cr := range rounds[i:min(i+4, len(rounds))] {
			olds, news = append(olds, cr.old), append(news, cr.new)
		}
		out = append(out, compareRound{oldFirst: true, old: merge(olds), new: merge(news)})
	}
	return out
}

// ratios returns the throughput and the CPU-per-request ratios of rounds.
func ratios(rounds []compareRound) (thr, cpu []float64) {
	for _, cr := range rounds {
		thr, cpu = append(thr, cr.ratio()), append(cpu, cr.cpuRatio())
	}
	return thr, cpu
}

// medianCI is a distribution-free 95% confidence interval of the median of
// xs, from order statistics (the normal approximation of the binomial); with
// fewer than 6 values it is their whole range. It narrows as values are
// added, unlike their spread; it takes them as independent.
func medianCI(xs []float64) (lo, hi float64) {
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	k := int(math.Floor((float64(n) - 1.96*math.Sqrt(float64(n))) / 2))
	if k < 1 {
		return s[0], s[n-1]
	}
	return s[k-1], s[n-k]
}

// mixName names what a comparison measures: the operation of a one-operation
// mix ("list"), else "mix".
func mixName(m mix) string {
	for o, pct := range m {
		if pct == 100 {
			return opNames[o]
		}
	}
	return "mix"
}

// runCompare builds rowgate at -compare REV and from this checkout, starts
// both against the same seeded database, and drives them one at a time in
// alternating rounds.
func runCompare(ctx context.Context, o options) error {
	if o.target != "" {
		return fmt.Errorf("-compare boots its own stack and both servers; drop -target")
	}
	m, err := parseMix(o.mix)
	if err != nil {
		return err
	}
	if o.rounds < 2 {
		return fmt.Errorf("-rounds must be at least 2")
	}
	root := moduleRoot()
	oldBin, oldLabel, cleanup, err := buildRevision(ctx, root, o.compare)
	if err != nil {
		return err
	}
	defer cleanup()
	if o.compareSchemas && !readOnlyMix(m) {
		return fmt.Errorf("-compare-schemas: the two databases must hold the same rows throughout, so -mix may only list and get")
	}
	st, pop, err := openSeeded(ctx, o, o.todos)
	if err != nil {
		return err
	}
	defer st.close()
	st.stopServer() // openStack started one; the comparison starts its own two
	urls := [2]string{st.appURL, st.appURL}
	if o.compareSchemas {
		if urls[0], err = oldDatabase(ctx, st, oldBin); err != nil {
			return err
		}
	}
	sides, stop, err := startSides(ctx, st, pop, m, o, [2]string{oldBin, st.bin}, urls)
	if err != nil {
		return err
	}
	defer stop()
	cfg := compareConfig{rounds: o.rounds, round: o.duration / time.Duration(o.rounds), warmup: o.warmup, minRatio: o.minRatio}
	w := os.Stdout
	fmt.Fprintf(w, "# rowgate compare\n\n%s; %d CPUs; %d users × %d todos; mix %s; %d connections\n",
		time.Now().UTC().Format(time.RFC3339), runtime.NumCPU(), o.users, o.todos, o.mix, o.conns)
	fmt.Fprintf(w, "old: %s (git archive of %q); new: this checkout, %s\n", oldLabel, o.compare, describeCheckout(root))
	if o.compareSchemas {
		fmt.Fprintf(w, "each side on its own database, migrated by its own binary, with the same rows (-compare-schemas)\n")
	}
	fmt.Fprintf(w, "both servers run throughout, driven one at a time: %d rounds of %s per side, each after %s of unmeasured load; -server-env for both: %s\n\n",
		cfg.rounds, cfg.round, cfg.warmup, orNone(o.serverEnv.String()))
	for _, s := range sides { // a fresh process verifies every token once, opens its pool, grows its heap
		s.dr.run(ctx, 4*cfg.warmup)
	}
	rounds, err := compareRounds(ctx, w, cfg, sides)
	if err != nil {
		return err
	}
	return printCompare(w, mixName(m), rounds, cfg.minRatio)
}

// startSides starts both binaries, each on its database (urls, rowgate_app)
// with its own workers (same seed, so the same request sequence). stop
// stops both.
func startSides(ctx context.Context, st *stack, pop *population, m mix, o options, bins, urls [2]string) (sides [2]*side, stop func(), err error) {
	stop = func() {
		for _, s := range sides {
			if s != nil {
				s.dr.close()
				s.proc.stop()
			}
		}
	}
	for i, name := range []string{"old", "new"} {
		p, err := st.startProcOn(ctx, bins[i], o.dbMaxConns, urls[i])
		if err != nil {
			stop()
			return sides, nil, fmt.Errorf("%s: %w", name, err)
		}
		dr, err := newDriver(st, p.base, pop, m, o.conns, o.seed)
		if err != nil {
			p.stop()
			stop()
			return sides, nil, err
		}
		sides[i] = &side{name: name, proc: p, dr: dr}
	}
	return sides, stop, nil
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// compareRounds runs the rounds, printing each as it ends.
func compareRounds(ctx context.Context, w io.Writer, cfg compareConfig, sides [2]*side) ([]compareRound, error) {
	fmt.Fprintln(w, "| round | order | old req/s | old p99 ms | old CPU µs/req | new req/s | new p99 ms | new CPU µs/req | new/old req/s | new/old CPU/req |")
	fmt.Fprintln(w, "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|")
	var rounds []compareRound
	for i := 0; i < cfg.rounds; i++ {
		cr := compareRound{oldFirst: oldFirst(i)}
		order := sides
		if !cr.oldFirst {
			order = [2]*side{sides[1], sides[0]}
		}
		for _, s := range order {
			r, err := measureSide(ctx, s, cfg)
			if err != nil {
				return nil, fmt.Errorf("round %d, %s: %w", i+1, s.name, err)
			}
			if s.name == "old" {
				cr.old = r
			} else {
				cr.new = r
			}
		}
		rounds = append(rounds, cr)
		fmt.Fprintf(w, "| %d | %s, %s | %.0f | %s | %.0f | %.0f | %s | %.0f | %.3f | %.3f |\n", i+1, order[0].name, order[1].name,
			throughput(cr.old), ms(cr.old.p99()), us(cpuPerRequest(cr.old)),
			throughput(cr.new), ms(cr.new.p99()), us(cpuPerRequest(cr.new)), cr.ratio(), cr.cpuRatio())
	}
	return rounds, nil
}

func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// measureSide drives one side for the warm-up, then for one measured span,
// and records the server CPU the span used. The warm-up's errors and
// violations count too.
func measureSide(ctx context.Context, s *side, cfg compareConfig) (*result, error) {
	warm := s.dr.run(ctx, cfg.warmup)
	cpu0, err := s.proc.cpu()
	if err != nil {
		return nil, err
	}
	r := s.dr.run(ctx, cfg.round)
	cpu1, err := s.proc.cpu()
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	select {
	case <-s.proc.exited:
		return nil, fmt.Errorf("the server exited during the run: %v", s.proc.exitErr)
	default:
	}
	r.serverCPU = cpu1 - cpu0
	r.errors += warm.errors
	r.violations += warm.violations
	r.errorSamples = append(warm.errorSamples, r.errorSamples...)
	r.violationSamples = append(warm.violationSamples, r.violationSamples...)
	return r, nil
}

// printCompare writes both sides' totals and the verdict, and fails when
// the median ratio is under minRatio or any response was wrong.
func printCompare(w io.Writer, what string, rounds []compareRound, minRatio float64) error {
	var olds, news []*result
	for _, cr := range rounds {
		olds, news = append(olds, cr.old), append(news, cr.new)
	}
	oldAll, newAll := merge(olds), merge(news)
	thr, cpu := ratios(rounds)
	cycleThr, cycleCPU := ratios(cycles(rounds))
	fmt.Fprintln(w)
	for _, s := range []struct {
		name string
		r    *result
	}{{"old", oldAll}, {"new", newAll}} {
		fmt.Fprintf(w, "%s, all rounds: %d requests, %.0f req/s, p99 %s ms, server CPU %.0f µs/request; errors %d; isolation violations %d\n",
			s.name, s.r.total(), throughput(s.r), ms(s.r.p99()), us(cpuPerRequest(s.r)), s.r.errors, s.r.violations)
		for _, e := range s.r.errorSamples {
			fmt.Fprintln(w, "  error:", e)
		}
		for _, v := range s.r.violationSamples {
			fmt.Fprintln(w, "  VIOLATION:", v)
		}
	}
	lo, hi := medianCI(cycleThr)
	clo, chi := medianCI(cycleCPU)
	fmt.Fprintf(w, "round ratios from %.3f to %.3f; all rounds' totals %.3f\n",
		slices.Min(thr), slices.Max(thr), throughput(newAll)/throughput(oldAll))
	fmt.Fprintf(w, "server CPU per request new/old = %.3f (median of rounds), 95%% interval from %d ABBA cycles %.3f to %.3f (for information; PostgreSQL not included)\n",
		median(cpu), len(cycleCPU), clo, chi)
	line, ok := compareVerdict(what, thr, minRatio)
	fmt.Fprintf(w, "\n%s; 95%% confidence interval from %d ABBA cycles %.3f to %.3f\n", line, len(cycleThr), lo, hi)
	if lo < minRatio && minRatio <= hi {
		fmt.Fprintln(w, "inconclusive: the interval contains the limit, so this run cannot tell which side of it the ratio is on; run longer (more -rounds and -duration) or when the machine is quieter")
	}
	if errs, vs := oldAll.errors+newAll.errors, oldAll.violations+newAll.violations; errs+vs > 0 {
		return fmt.Errorf("compare: %d errors and %d isolation violations", errs, vs)
	}
	if !ok {
		return fmt.Errorf("compare: %s", line)
	}
	return nil
}

// buildRevision builds rowgate at git revision rev: the tree of rev is
// extracted with git archive into a temporary folder (no worktree, nothing
// in the checkout changes) and built the way openStack builds the checkout.
// cleanup removes the binary and its folder.
func buildRevision(ctx context.Context, root, rev string) (bin, label string, cleanup func(), err error) {
	if rev == "" || strings.HasPrefix(rev, "-") {
		return "", "", nil, fmt.Errorf("-compare %q: not a revision", rev)
	}
	out, err := exec.CommandContext(ctx, "git", "-C", root, "rev-parse", "--verify", rev+"^{commit}").Output()
	if err != nil {
		return "", "", nil, fmt.Errorf("-compare %q: not a commit of this repository: %w", rev, err)
	}
	commit := strings.TrimSpace(string(out))
	label = commit[:min(len(commit), 12)]
	dir, err := os.MkdirTemp("", "rowgate-compare-")
	if err != nil {
		return "", "", nil, err
	}
	cleanup = func() { os.RemoveAll(dir) }
	fmt.Fprintf(os.Stderr, "load: building rowgate at %s\n", label)
	src := filepath.Join(dir, "src")
	bin = filepath.Join(dir, "rowgate-"+label)
	if err := extractRevision(ctx, root, commit, src); err != nil {
		cleanup()
		return "", "", nil, err
	}
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/rowgate")
	build.Dir, build.Stderr = src, os.Stderr
	if err := build.Run(); err != nil {
		cleanup()
		return "", "", nil, fmt.Errorf("build rowgate at %s: %w", label, err)
	}
	os.RemoveAll(src)
	return bin, label, cleanup, nil
}

// extractRevision writes the tree of commit into dir: git archive | tar -x.
func extractRevision(ctx context.Context, root, commit, dir string) error {
	if err := os.Mkdir(dir, 0o755); err != nil {
		return err
	}
	r, wr, err := os.Pipe()
	if err != nil {
		return err
	}
	archive := exec.CommandContext(ctx, "git", "-C", root, "archive", "--format=tar", commit)
	archive.Stdout, archive.Stderr = wr, os.Stderr
	extract := exec.CommandContext(ctx, "tar", "-x", "-C", dir)
	extract.Stdin, extract.Stderr = r, os.Stderr
	if err := extract.Start(); err != nil {
		r.Close()
		wr.Close()
		return err
	}
	r.Close()
	archiveErr := archive.Run()
	wr.Close()
	if err := extract.Wait(); err != nil {
		return fmt.Errorf("tar -x: %w", err)
	}
	if archiveErr != nil {
		return fmt.Errorf("git archive %s: %w", commit, archiveErr)
	}
	return nil
}

// describeCheckout names the checkout's commit, with "-dirty" when it has
// uncommitted changes (which the new binary includes).
func describeCheckout(root string) string {
	out, err := exec.Command("git", "-C", root, "describe", "--always", "--dirty").Output()
	if err != nil {
		return "(not a git checkout)"
	}
	return strings.TrimSpace(string(out))
}
