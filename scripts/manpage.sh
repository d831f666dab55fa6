#!/bin/sh
# Writes parley(1) in roff to stdout, from the binary's own --help and
# --help-config, so the man page never drifts from the program.
# Usage: scripts/manpage.sh PATH/TO/parley
set -eu
bin=$1
version=$("$bin" --version | sed -n 's/^parley \([^ ]*\).*/\1/p')
# Verbatim text: backslashes doubled, and a line starting with . or ' protected.
verbatim() { sed -e 's/\\/\\\\/g' -e "s/^\\([.']\\)/\\\\\\&\\1/"; }
cat <<HEAD
.TH PARLEY 1 "" "parley $version" "User Commands"
.SH NAME
parley \\- a real-time voice assistant server
.SH SYNOPSIS
.B parley serve
[\\fB\\-\\-config\\fR \\fIFILE\\fR] [\\fB\\-\\-set\\fR \\fIKEY\\fR=\\fIVALUE\\fR]...
.br
.B parley
\\fICOMMAND\\fR [\\fIOPTIONS\\fR]
.SH DESCRIPTION
parley hears people over a WebSocket (protocol v1, the browser page it serves),
HTTP, or Wyoming (Home Assistant), thinks with a local LLM (Ollama or any
OpenAI-compatible server) and talks back while it is still thinking; it stops
the instant they interrupt.
.SH COMMANDS
.nf
HEAD
"$bin" --help | verbatim
cat <<MID
.fi
.SH CONFIGURATION
.nf
MID
"$bin" --help-config | verbatim
cat <<TAIL
.fi
.SH FILES
.TP
.I /etc/parley/parley.yaml
The configuration the systemd unit reads (an example, every key commented).
.TP
.I /var/lib/parley
The data directory under systemd (StateDirectory=parley): the SQLite file and models.
.SH SEE ALSO
The documentation in the source tree: README.md, docs/protocol.md, docs/api.md,
docs/config.md, docs/wyoming.md.
TAIL
