package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// env is what every bench needs to know about the site.
type env struct {
	Site    string // laid out by bench/site.sh
	PHPInit string // the phpinit binary
	Port    int    // nginx listens on 127.0.0.1:Port
	Logs    string // each run's output goes to a file here
}

func (e env) url() string { return fmt.Sprintf("http://127.0.0.1:%d/index.php", e.Port) }

// initCommand is the PID 1 of each contender.
func (e env) initCommand(name string) ([]string, error) {
	switch name {
	case "phpinit", "phpinit-noprobe":
		return []string{e.PHPInit, "run", "--config", filepath.Join(e.Site, name+".yaml")}, nil
	case "supervisord":
		return []string{"supervisord", "-n", "-c", filepath.Join(e.Site, "supervisord.conf")}, nil
	case "byhand":
		return []string{"/bin/sh", filepath.Join(e.Site, "byhand.sh")}, nil
	case "tini":
		return []string{"tini", "--", filepath.Join(e.Site, "tini.sh")}, nil
	case "s6":
		return []string{"s6-svscan", filepath.Join(e.Site, "s6")}, nil
	}
	return nil, fmt.Errorf("unknown init %q (want phpinit, phpinit-noprobe, supervisord, s6, tini or byhand)", name)
}

// stack is one contender running as PID 1 of a fresh PID namespace.
type stack struct {
	Name    string
	Started time.Time // just before the exec of unshare
	cmd     *exec.Cmd
	log     *os.File
	done    chan struct{}
	initPID int
}

// startStack execs unshare, which forks the init into a new PID and mount
// namespace (with its own /proc). Output goes through a pipe, as it would
// from a container runtime, into a file under e.Logs.
func startStack(e env, name, tag string) (*stack, error) {
	argv, err := e.initCommand(name)
	if err != nil {
		return nil, err
	}
	if err := waitPortFree(e.Port, 10*time.Second); err != nil {
		return nil, err
	}
	log, err := os.OpenFile(filepath.Join(e.Logs, name+"-"+tag+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("cannot open log: %w", err)
	}
	full := append([]string{"--pid", "--fork", "--mount-proc", "--kill-child"}, argv...)
	cmd := exec.Command("unshare", full...)
	// A plain io.Writer (not the *os.File) makes os/exec create a pipe.
	cmd.Stdout = struct{ io.Writer }{log}
	cmd.Stderr = cmd.Stdout
	s := &stack{Name: name, cmd: cmd, log: log, done: make(chan struct{})}
	s.Started = time.Now()
	if err := cmd.Start(); err != nil {
		log.Close()
		return nil, fmt.Errorf("cannot start %s: %w", name, err)
	}
	go func() {
		_ = cmd.Wait()
		close(s.done)
	}()
	return s, nil
}

// InitPID is the host pid of the namespace's PID 1 (unshare's child).
func (s *stack) InitPID() (int, error) {
	deadline := time.Now().Add(10 * time.Second)
	for s.initPID == 0 && time.Now().Before(deadline) {
		if kids := children(s.cmd.Process.Pid); len(kids) > 0 {
			s.initPID = kids[0]
			break
		}
		select {
		case <-s.done:
			return 0, fmt.Errorf("%s: %w", s.Name, errExited)
		case <-time.After(time.Millisecond):
		}
	}
	if s.initPID == 0 {
		return 0, fmt.Errorf("cannot find the PID 1 of %s under unshare (pid %d)", s.Name, s.cmd.Process.Pid)
	}
	return s.initPID, nil
}

// Stop kills the namespace's PID 1; the kernel then kills every process in
// the namespace and reaps them before unshare's wait returns
// (zap_pid_ns_processes), so the next run starts clean.
func (s *stack) Stop() {
	if pid, err := s.InitPID(); err == nil {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
	s.log.Close()
}

// waitPortFree waits until nothing accepts on 127.0.0.1:port.
func waitPortFree(port int, d time.Duration) error {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), 100*time.Millisecond)
		if err != nil {
			return nil
		}
		c.Close()
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("port %d still accepts connections: is another server using it?", port)
}

// page is what index.php answers: the worker's pid and its parent's (both
// as the namespace sees them).
type page struct {
	Code      int
	PID, PPID int
}

// newClient makes one fresh connection per request: no keep-alive socket
// outlives a run, and every poll goes the whole way through nginx.
func newClient() *http.Client {
	return &http.Client{
		Timeout:   2 * time.Second,
		Transport: &http.Transport{DisableKeepAlives: true},
	}
}

func get(c *http.Client, url string) (page, error) {
	resp, err := c.Get(url)
	if err != nil {
		return page{}, err
	}
	defer resp.Body.Close()
	p := page{Code: resp.StatusCode}
	line, _ := bufio.NewReader(io.LimitReader(resp.Body, 4096)).ReadString('\n')
	for _, kv := range strings.Fields(line) {
		k, v, _ := strings.Cut(kv, "=")
		n, _ := strconv.Atoi(v)
		switch k {
		case "pid":
			p.PID = n
		case "ppid":
			p.PPID = n
		}
	}
	return p, nil
}

var (
	errTimeout = errors.New("timed out")
	errExited  = errors.New("PID 1 exited (see its log)")
)

// pollPage GETs url every millisecond until ok accepts an answer and returns
// the time that answer arrived. observe, when set, sees every answer and
// every error. It gives up at until, or when stop is closed (the stack
// exited).
func pollPage(c *http.Client, url string, until time.Time, stop <-chan struct{}, ok func(page) bool, observe func(page, error)) (time.Time, error) {
	for {
		select {
		case <-stop:
			return time.Now(), errExited
		default:
		}
		p, err := get(c, url)
		now := time.Now()
		if observe != nil {
			observe(p, err)
		}
		if err == nil && ok(p) {
			return now, nil
		}
		if now.After(until) {
			return now, errTimeout
		}
		time.Sleep(time.Millisecond)
	}
}

// phpAnswered: a 200 that PHP produced (not an nginx error page).
func phpAnswered(p page) bool { return p.Code == 200 && p.PID > 0 }
