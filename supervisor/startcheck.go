package supervisor

import (
	"regexp"
	"strings"

	"github.com/phpinit/phpinit/internal/proc"
)

// ExitConfigInvalid is phpinit's exit status when a critical program goes
// FATAL because its check fails after a failed start (EX_CONFIG, as for
// an invalid phpinit.yaml).
const ExitConfigInvalid = 78

// checkAfterFailure: a failed start is checked before it is retried. Only
// an exit of the program's own with a failure status can be its config's
// (php-fpm exits 78, nginx 1): not a kill (kill -9, the OOM killer), nor a
// stop for not getting ready in time.
func (p *program) checkAfterFailure(s *Supervisor) bool {
	return len(p.spec.Check) > 0 && !s.stopping && !s.draining && !p.startTimedOut &&
		!p.exitStatus.Signaled() && p.exitStatus.ExitStatus() != 0
}

// startCheck runs the program's check after a failed start (ActStartCheck).
// Only then, not before every first start: the happy path starts as fast
// as without a check, and a program that cannot start because of its
// config (php-fpm exits 78 at every start) is told apart from one that
// crashed, which retrying may fix.
func (p *program) startCheck(s *Supervisor) {
	gen := p.gen
	p.checkBegan = s.clock.Now()
	p.log.Info("start failed: checking the config")
	s.check(p, func(r proc.Result) {
		if p.gen != gen {
			return // stopped or restarted meanwhile
		}
		switch {
		case r.OK():
			p.apply(s, EvCheckPassed)
		case r.StartErr != nil || r.Err != nil || r.TimedOut || r.Canceled:
			// The check proves nothing about the config: retry as usual.
			p.log.Warn("check after a failed start did not run to its end", "err", r.Desc(checkTimeout))
			p.apply(s, EvCheckPassed)
		default:
			p.configErr = checkReason(r)
			p.apply(s, EvCheckFailed)
		}
	})
}

// recheckFailed keeps the reason of a FATAL program whose config is still
// invalid up to date when a reload's check fails again.
func (p *program) recheckFailed(r proc.Result) {
	if p.state != Fatal || p.configErr == "" || r.OK() || r.StartErr != nil || r.TimedOut {
		return
	}
	p.configErr = checkReason(r)
	if p.lastExit != nil {
		e := *p.lastExit
		e.Desc = "config invalid: " + p.configErr
		p.lastExit = &e
	}
}

// configInvalid records why the program is FATAL (ActConfigInvalid) where
// `ctl status` shows it, and logs the one line that says what to fix.
func (p *program) configInvalid() {
	desc := "config invalid: " + p.configErr
	if p.lastExit != nil {
		e := *p.lastExit
		e.Desc = desc
		p.lastExit = &e
	} else {
		p.lastExit = &ExitInfo{Code: ExitConfigInvalid, Desc: desc}
	}
	args := []any{"err", p.configErr}
	if f := fileNamed(p.configErr); f != "" {
		args = append(args, "file", f)
	}
	then := "phpinit ctl reload " + p.spec.Name
	if p.spec.Critical {
		then = "start phpinit again: " + p.spec.Name + " is critical"
	}
	args = append(args, "then", then)
	p.log.Error("config invalid: not retrying until it is fixed", args...)
}

// checkReason is the first meaningful line of a failed check's output, or
// how it ended when it printed nothing useful.
func checkReason(r proc.Result) string {
	if line := meaningfulLine(string(r.Output)); line != "" {
		return line
	}
	return "check " + r.Desc(checkTimeout)
}

var (
	// fpmStamp is the "[02-Dec-2026 04:00:00] " php-fpm puts before its lines.
	fpmStamp = regexp.MustCompile(`^\[\d{2}-[A-Za-z]{3}-\d{4} \d{2}:\d{2}:\d{2}(\.\d+)?\]\s+`)
	// nginxStamp is nginx's error log prefix, "2026/12/02 04:03:12 [emerg]
	// 35#35: ", as `-e stderr` writes it; the level stays.
	nginxStamp = regexp.MustCompile(`^\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2} (\[[a-z]+\]) \d+#\d+: (\*\d+ )?`)
	// fpmLevel is php-fpm's level word; fpmNoErrno the errno it appends
	// when there was none ("cannot get uid for user 'x': Success (0)").
	fpmLevel   = regexp.MustCompile(`^(ERROR|ALERT): `)
	fpmNoErrno = regexp.MustCompile(`: Success \(0\)$`)
)

// noise are lines that say nothing of what to change: notices, warnings
// (nginx warns about `user` under a non-root master), and the summaries
// nginx and php-fpm print after the line that matters.
var noise = []string{
	"NOTICE:", "WARNING:", "[warn]", "[notice]", "[info]",
	"FPM initialization failed", "failed to post process the configuration",
	"test failed", "test is successful",
}

// meaningfulLine is the first line of out that is not blank or noise, with
// php-fpm's and nginx's prefixes cut; if every line is noise, the first
// non-blank one.
func meaningfulLine(out string) string {
	first := ""
	for line := range strings.SplitSeq(out, "\n") {
		line = fpmStamp.ReplaceAllString(strings.TrimSpace(line), "")
		line = nginxStamp.ReplaceAllString(line, "$1 ")
		line = strings.TrimSpace(strings.TrimPrefix(line, "nginx: "))
		line = fpmNoErrno.ReplaceAllString(fpmLevel.ReplaceAllString(line, ""), "")
		if line == "" {
			continue
		}
		if first == "" {
			first = line
		}
		if !isNoise(line) {
			return clip(line)
		}
	}
	return clip(first)
}

func isNoise(line string) bool {
	for _, n := range noise {
		if strings.Contains(line, n) {
			return true
		}
	}
	return false
}

// clip keeps a reason to one readable line.
func clip(line string) string {
	const maxReason = 400
	if r := []rune(line); len(r) > maxReason {
		return string(r[:maxReason-1]) + "…"
	}
	return line
}

var (
	// nginx: "... in /etc/nginx/sites-enabled/site.conf:12".
	inFile = regexp.MustCompile(` in (/[^\s:;"']+):\d+`)
	// A line that begins with the file it is about ("/data/conf/x.conf: ...").
	leadFile = regexp.MustCompile(`^(/[^\s:;"']+):`)
	anyFile  = regexp.MustCompile(`(/[^\s:;"'()]+\.[A-Za-z0-9]+)`)
)

// fileNamed is the config file a check's line names, if any: nginx's
// "in FILE:LINE" first (an "open() /x failed" names the missing file
// before it), then a leading path, then any path with an extension
// outside /proc and /dev.
func fileNamed(line string) string {
	if m := inFile.FindStringSubmatch(line); m != nil {
		return m[1]
	}
	if m := leadFile.FindStringSubmatch(line); m != nil {
		return m[1]
	}
	for _, m := range anyFile.FindAllString(line, -1) {
		if !strings.HasPrefix(m, "/proc/") && !strings.HasPrefix(m, "/dev/") {
			return m
		}
	}
	return ""
}
