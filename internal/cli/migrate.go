package cli

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"github.com/phpinit/phpinit/config"
)

func newMigrateCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "translate other supervisors' configs into phpinit.yaml",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "supervisord FILE...",
		Short: "print the phpinit.yaml programs: equivalent to supervisord files",
		Long: `Reads supervisord files ([include] files= followed) and prints the
equivalent phpinit.yaml programs: on stdout, with a comment for every key
that was dropped or mapped loosely, and why. Errors go to stderr (exit 1).`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, files []string) error {
			out, err := migrateSupervisord(files, os.Environ())
			if err != nil {
				printConfigErrors(cmd.ErrOrStderr(), err)
				return exitWith(ExitFailed, nil)
			}
			_, _ = io.WriteString(cmd.OutOrStdout(), out)
			return nil
		},
	})
	return cmd
}

// migrateSupervisord renders the programs of files as phpinit.yaml.
func migrateSupervisord(files, environ []string) (string, error) {
	im, err := config.FromSupervisord(files, environ)
	if err != nil {
		return "", err
	}
	byProgram := map[string][]string{}
	var top []string
	for _, n := range im.Notices {
		text := noticeComment(n)
		if n.Program == "" {
			top = append(top, n.Where+": "+text)
			continue
		}
		byProgram[n.Program] = append(byProgram[n.Program], text)
	}
	progsNode := &yaml.Node{Kind: yaml.MappingNode}
	for _, p := range im.Programs {
		key, val, err := programNode(p, byProgram[p.Name])
		if err != nil {
			return "", err
		}
		progsNode.Content = append(progsNode.Content, key, val)
	}
	head := []string{"programs from " + strings.Join(files, ", ") + " (phpinit migrate supervisord)",
		"phpinit also reads such files as they are from supervisord.include (default /data/conf/supervisord/*.conf)"}
	root := &yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{
		{Kind: yaml.ScalarNode, Value: "programs", HeadComment: comment(append(head, top...))}, progsNode,
	}}
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(root); err != nil {
		return "", fmt.Errorf("cannot encode programs: %w", err)
	}
	return b.String(), enc.Close()
}

func noticeComment(n config.Notice) string {
	s := n.Msg
	if n.Key != "" {
		s = n.Key + ": " + s
	}
	if n.Level == "warn" {
		s = "WARNING " + s
	}
	return s
}

// programNode is the name and the keys of p that differ from phpinit's
// defaults, commented with where it came from and what was dropped.
func programNode(p *config.Program, notes []string) (*yaml.Node, *yaml.Node, error) {
	var got, def yaml.Node
	if err := got.Encode(p); err != nil {
		return nil, nil, fmt.Errorf("cannot encode program %s: %w", p.Name, err)
	}
	if err := def.Encode(config.DefaultProgram(p.Name)); err != nil {
		return nil, nil, fmt.Errorf("cannot encode program %s: %w", p.Name, err)
	}
	defaults := map[string]string{}
	for i := 0; i+1 < len(def.Content); i += 2 {
		defaults[def.Content[i].Value] = nodeText(def.Content[i+1])
	}
	out := &yaml.Node{Kind: yaml.MappingNode}
	for i := 0; i+1 < len(got.Content); i += 2 {
		k, v := got.Content[i], got.Content[i+1]
		// supervisord's priority 999 is its default: leave it out.
		if defaults[k.Value] == nodeText(v) || k.Value == "priority" && v.Value == "999" {
			continue
		}
		switch k.Value {
		case "command":
			v.Style = yaml.FlowStyle
		case "critical":
			k.LineComment = "supervisord has no critical: a crash here does not stop phpinit"
		case "exitcodes":
			v.Style = yaml.FlowStyle
		}
		out.Content = append(out.Content, k, v)
	}
	head := []string{"from " + p.Source}
	if p.ProcessGroup != "" {
		head = append(head, "[group:"+p.ProcessGroup+"] lists it: its copies' group is "+p.ProcessGroup)
	}
	name := &yaml.Node{Kind: yaml.ScalarNode, Value: p.Name, HeadComment: comment(append(head, notes...))}
	return name, out, nil
}

func nodeText(n *yaml.Node) string {
	b, _ := yaml.Marshal(n)
	return string(b)
}

func comment(lines []string) string { return strings.Join(lines, "\n") }

// printNotices writes what reading supervisord files found that is not an
// error, one per line: "warning: FILE:LINE: ..." or "info: FILE:LINE: ...".
func printNotices(w io.Writer, notices []config.Notice) {
	for _, n := range notices {
		level := "info"
		if n.Level == "warn" {
			level = "warning"
		}
		fmt.Fprintf(w, "%s: %s\n", level, n)
	}
}
