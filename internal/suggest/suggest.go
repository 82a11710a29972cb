// Package suggest finds the word a user probably meant: "did you mean
// check?" for chek, --config for --confg, PHPINIT_SHUTDOWN_GRACE for
// PHPINIT_SHUTDOWN_GRAEC.
package suggest

// Distance is the edit distance between a and b, in runes: the fewest
// insertions, deletions, substitutions and swaps of two neighbours that
// turn one into the other (optimal string alignment). A swap counts one,
// so stauts is nearer to status than to start.
func Distance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	// d[i][j] is the distance between ra[:i] and rb[:j].
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}

// Closest is the candidate nearest to word, if it is at most maxDist away;
// ties go to the earlier candidate. It returns "" when none is that close.
func Closest(word string, candidates []string, maxDist int) string {
	best, bestDist := "", maxDist+1
	for _, c := range candidates {
		if d := Distance(word, c); d < bestDist {
			best, bestDist = c, d
		}
	}
	return best
}
