package export

import (
	"fmt"
	"strings"
)

// readme returns README.txt: what each file is and how to check it, in plain
// language for the data subject. m holds the services written so far.
func readme(m Manifest) []byte {
	var b strings.Builder
	b.WriteString("Your data export\n================\n\n")
	fmt.Fprintf(&b, "This archive holds a copy of the personal data that the services listed\n"+
		"below keep about you.\n\n    Made on:  %s\n    Request:  %s\n\n",
		m.CreatedAt.Format("2 January 2006 at 15:04 UTC"), m.RequestID)

	b.WriteString("Services\n--------\n\n")
	example := ""
	for _, s := range m.Services {
		name := s.Name
		if name == "" {
			name = s.ID
		}
		switch {
		case len(s.Files) == 0:
			fmt.Fprintf(&b, "%s (%s): no data in this export\n", name, s.ID)
		case s.Items == 1:
			fmt.Fprintf(&b, "%s (%s): 1 item\n", name, s.ID)
		default:
			fmt.Fprintf(&b, "%s (%s): %d items\n", name, s.ID, s.Items)
		}
		for _, f := range s.Files {
			fmt.Fprintf(&b, "    %s\n", f)
			if example == "" {
				example = f
			}
		}
		if s.Note != "" {
			fmt.Fprintf(&b, "    Note: %s\n", strings.Join(strings.Fields(s.Note), " "))
		}
		b.WriteString("\n")
	}
	if len(m.Services) == 0 {
		b.WriteString("No service holds data about you.\n\n")
	}
	if example == "" {
		example = ReadmePath
	}

	b.WriteString(`Files
-----

services/<service>.json
    All the data a service gave about you, in JSON: a plain-text format
    that programs can read and that any text editor opens. Each item is on
    a line of its own. This file is always complete.

services/<service>.csv
    The same data as the JSON file of that service, as a table for a
    spreadsheet program: one row per item, one column per field. It is made
    only when the data is a simple table. An empty cell means the field is
    empty or missing. A text that starts with =, +, -, @, a tab or a
    carriage return has a ' put in front of it, so that a spreadsheet shows
    it as text and does not run it as a formula; the JSON file has the text
    exactly as it is. The text is encoded as UTF-8.

manifest.json
    For programs and for checking: the services, how many items each gave,
    and the size and SHA-256 fingerprint of every other file.

README.txt
    This file.

Checking that a file is complete and unchanged
----------------------------------------------

manifest.json lists, for every other file, its size in bytes ("bytes") and
its SHA-256 fingerprint ("sha256"). Compute the fingerprint of a file and
compare it with the one listed; if they are the same, the file is exactly
the one that was made. For example:

`)
	windows := strings.ReplaceAll(example, "/", `\`)
	fmt.Fprintf(&b, "    Linux:       sha256sum %s\n", example)
	fmt.Fprintf(&b, "    macOS:       shasum -a 256 %s\n", example)
	fmt.Fprintf(&b, "    Windows:     certutil -hashfile %s SHA256\n", windows)
	fmt.Fprintf(&b, "    PowerShell:  Get-FileHash %s\n", windows)
	b.WriteString("\nUpper- or lower-case letters in a fingerprint do not matter.\n")
	return []byte(b.String())
}
