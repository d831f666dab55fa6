#!/bin/sh
# The shape the code keeps: no C file over 800
# lines, and no two folders of src/ that include each other. Prints what
# breaks a rule and exits 1; silent and 0 when the tree keeps them.
src=${1:-$(dirname "$0")/../src}
rc=0
for f in $(find "$src" -name '*.[ch]'); do
    n=$(wc -l < "$f")
    if [ "$n" -gt 800 ]; then
        echo "too long: $f has $n lines (at most 800)"
        rc=1
    fi
done
# Folder pairs A B where a file in A includes "B/..." (B a folder of src/).
edges=$(for f in $(find "$src" -mindepth 2 -name '*.[ch]'); do
    from=$(basename "$(dirname "$f")")
    sed -n 's|^#include "\([a-z_]*\)/.*|\1|p' "$f" | while read -r to; do
        [ "$to" != "$from" ] && [ -d "$src/$to" ] && echo "$from $to"
    done
done | sort -u)
echo "$edges" | while read -r a b; do
    [ -z "$a" ] && continue
    if echo "$edges" | grep -qx "$b $a"; then
        [ "$a" \< "$b" ] && echo "folders include each other: $a <-> $b" && exit 1
    fi
done || rc=1
echo "$edges" | awk 'NF == 2' | wc -l | sed 's/^/folder dependencies: /'
exit $rc
