# No shebang: run with /bin/sh. Writes result files into $SKY_OUTPUT,
# which come back under results/report.sh/files/.
mkdir -p "$SKY_OUTPUT/tables"
uname -a > "$SKY_OUTPUT/host.txt"
seq 1 10 | awk '{ print $1, $1 * $1 }' > "$SKY_OUTPUT/tables/squares.txt"
echo "wrote $(ls -R "$SKY_OUTPUT" | wc -l) entries"
