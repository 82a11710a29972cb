package watch

import (
	"errors"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"

	"github.com/fsnotify/fsnotify"
)

// k8sData is the symlink Kubernetes' atomic writer renames over on every
// ConfigMap or Secret update; no event ever names the visible files
// (kubernetes pkg/volume/util/atomic_writer.go).
const k8sData = "..data"

// interest is one group's stake in the entries of a watched directory.
type interest struct {
	group string
	names map[string]bool // entry names that matter; nil means every entry
}

// dirWatch is a directory to watch and the groups that care about it.
type dirWatch struct {
	id        fileID
	interests []interest
}

// plan computes the directories to watch. inotify watches are not recursive
// and break when a watched file is replaced by rename (fsnotify #18, #255), so
// only directories are watched: each directory of a tree, the parent of a
// file, and for a path that does not exist yet the nearest existing ancestor,
// so that its creation is noticed.
type plan struct {
	dirs map[string]*dirWatch
	byID map[fileID]string // one watch per inode: inotify_add_watch on a second name returns the same descriptor
}

func planWatches(groups map[string]*group) map[string]*dirWatch {
	p := plan{dirs: map[string]*dirWatch{}, byID: map[fileID]string{}}
	for _, name := range slices.Sorted(maps.Keys(groups)) {
		g := groups[name]
		for _, path := range g.paths {
			p.addPath(name, path, g.scanner.limits.MaxFiles)
		}
	}
	return p.dirs
}

// addPath plans the watches for one path. A tree of more than max entries
// (files and directories) gets a watch on its top directory only: the scan
// reports it as beyond the limits, and inotify watches are a scarce,
// per-user resource (max_user_watches) that a symlink to a huge tree would
// use up.
func (p *plan) addPath(group, path string, max int) {
	fi, err := os.Stat(path)
	if err != nil {
		p.addAncestor(group, path)
		return
	}
	li, err := os.Lstat(path)
	if !fi.IsDir() || (err == nil && li.Mode()&fs.ModeSymlink != 0) {
		// A file, or a directory reached through a symlink: the parent sees
		// the name replaced, retargeted, or swapped by a ConfigMap update.
		p.addDir(filepath.Dir(path), interest{group: group, names: nameSet(filepath.Base(path), k8sData)})
	}
	if !fi.IsDir() {
		return
	}
	type dir struct {
		path string
		fi   fs.FileInfo
	}
	var dirs []dir
	n := 0
	walk(path, func(path string, fi fs.FileInfo, err error) bool {
		if n++; n > max {
			return false
		}
		if err == nil && fi.IsDir() {
			dirs = append(dirs, dir{path, fi})
		}
		return true
	})
	if n > max && len(dirs) > 0 {
		dirs = dirs[:1] // the top: its changes still raise events
	}
	for _, d := range dirs {
		p.add(d.path, d.fi, interest{group: group})
	}
}

func (p *plan) addAncestor(group, path string) {
	child := path
	for {
		parent := filepath.Dir(child)
		if parent == child {
			return
		}
		if fi, err := os.Stat(parent); err == nil && fi.IsDir() {
			names := nameSet(filepath.Base(child))
			if child == path {
				names[k8sData] = true
			}
			p.add(parent, fi, interest{group: group, names: names})
			return
		}
		child = parent
	}
}

func (p *plan) addDir(dir string, in interest) {
	if fi, err := os.Stat(dir); err == nil && fi.IsDir() {
		p.add(dir, fi, in)
	}
}

func (p *plan) add(dir string, fi fs.FileInfo, in interest) {
	id := idOf(fi)
	if first, ok := p.byID[id]; ok {
		dir = first
	} else {
		p.byID[id] = dir
		p.dirs[dir] = &dirWatch{id: id}
	}
	p.dirs[dir].interests = append(p.dirs[dir].interests, in)
}

func nameSet(names ...string) map[string]bool {
	set := make(map[string]bool, len(names))
	for _, n := range names {
		set[n] = true
	}
	return set
}

// reconcile brings the inotify watches in line with the plan for the current
// groups and filesystem. It runs after every event that may add or remove a
// directory, and again when a debounce fires, just before the hash: anything
// written into a new directory before its watch was in place is in that hash.
func (w *Watcher) reconcile() {
	if w.fsw == nil {
		return
	}
	want := planWatches(w.groups)
	live := map[string]bool{}
	for _, path := range w.fsw.WatchList() {
		live[path] = true
	}
	for path, have := range w.watches {
		if next, ok := want[path]; ok && next.id == have.id && live[path] {
			continue
		}
		// Gone, replaced by another directory at the same path, or already
		// dropped by the kernel (IN_IGNORED after removal): Remove may find
		// nothing left to remove, which is fine.
		_ = w.fsw.Remove(path)
		delete(w.watches, path)
	}
	for path, next := range want {
		if _, ok := w.watches[path]; !ok {
			if err := w.addWatch(path); err != nil {
				w.watchFailed(path, err)
				continue
			}
		}
		w.watches[path] = next
	}
}

func (w *Watcher) addWatch(path string) error {
	if w.opts.failAdd != nil {
		return w.opts.failAdd
	}
	return w.fsw.Add(path)
}

func (w *Watcher) watchFailed(path string, err error) {
	if errors.Is(err, fs.ErrNotExist) {
		// Removed since it was planned; its parent's event brings a new plan.
		w.log.Debug("directory vanished before it could be watched", "path", path)
		return
	}
	// ENOSPC here is inotify's max_user_watches, not a full disk.
	w.fail("cannot watch directory", err, "path", path)
}

// route passes an event to the groups that care, and reports whether it may
// have added or removed a directory to watch.
func (w *Watcher) route(ev fsnotify.Event) bool {
	if ev.Op == fsnotify.Chmod {
		return false // touch and chmod change no content
	}
	matched := false
	if dw := w.watches[filepath.Dir(ev.Name)]; dw != nil {
		base := filepath.Base(ev.Name)
		for _, in := range dw.interests {
			if in.names == nil || in.names[base] {
				w.touch(in.group)
				matched = true
			}
		}
	}
	if dw := w.watches[ev.Name]; dw != nil {
		// The watched directory itself was removed or moved away.
		for _, in := range dw.interests {
			w.touch(in.group)
		}
		matched = true
	}
	return matched && ev.Op&(fsnotify.Create|fsnotify.Remove|fsnotify.Rename) != 0
}
