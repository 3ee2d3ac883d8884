package config

import "fmt"

// DefaultMaxPages is an inbox's max_pages when the file leaves it out:
// larger PDFs get a TOO_MANY_PAGES error file and are never uploaded.
const DefaultMaxPages = 2000

// maxPages checks inbox i's max_pages (the most pages a PDF may have to be
// uploaded; each page costs a credit).
func (v *validator) maxPages(i int) {
	in := &v.c.Inboxes[i]
	key := fmt.Sprintf("inbox[%d].max_pages", i)
	if _, set := v.loc.lines[key]; !set && in.MaxPages == 0 {
		in.MaxPages = DefaultMaxPages
		return
	}
	if in.MaxPages < 1 {
		v.fail(key, "must be a whole number of pages, at least 1 (the default is %d): a PDF with more pages gets a TOO_MANY_PAGES error file instead of being uploaded", DefaultMaxPages)
	}
}
