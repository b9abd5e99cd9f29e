# Plots of the tagpurge benchmarks; called by bench/report.py as
#   gnuplot -e "data='DIR'; out='DIR'; rows='1,000,000'" bench/plot.gp
# with the .dat files report.py writes into data.
set terminal pngcairo size 1100,520 font "sans,10" noenhanced
set datafile missing "?"
set grid ytics
set key top left

# ---- 1. throughput: rows/s per consumer, both sources (log scale)
set output out."/throughput.png"
set title "Stream throughput: the same ".rows." row changes read by each consumer (rows/s, higher is better)"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set boxwidth 0.9
set logscale y
set ylabel "rows/s"
set format y "%.0s%c"
set bmargin 6
# 2 series per cluster, gap 1: the bars stand at cluster -1/6 and +1/6
plot data."/throughput.dat" using 2:xtic(1) title "PostgreSQL (pgoutput)", \
     "" using 3 title "MariaDB (binlog)", \
     "" using ($0-1.0/6):2:(sprintf("%.0fk", $2/1000)) with labels offset 0,0.8 notitle, \
     "" using ($0+1.0/6):3:(sprintf("%.0fk", $3/1000)) with labels offset 0,0.8 notitle
set bmargin
unset logscale y
unset format y
set format y "% g"

# ---- 2. latency: p50 / p99 / p99.9 per commit rate, 1 and 4 nodes, per source
set output out."/latency.png"
set multiplot layout 1,2 title "Invalidation latency: commit returned -> purge answered by every node (ms, lower is better)"
set style data linespoints
set logscale xy
set xlabel "commit rate (txn/s)"
set ylabel "ms"
set xrange [70:7000]
set key top left font "sans,8"
do for [src in "pg my"] {
    set title (src eq "pg" ? "PostgreSQL" : "MariaDB")
    plot for [n in "1 4"] data."/lat-".src."-".n.".dat" using 1:2 lw 2 dt 2 title n." node(s) p50", \
         for [n in "1 4"] data."/lat-".src."-".n.".dat" using 1:3 lw 2 dt 1 title n." node(s) p99", \
         for [n in "1 4"] data."/lat-".src."-".n.".dat" using 1:4 lw 1 dt 3 title n." node(s) p99.9", \
         5 with lines lc rgb "red" dt 4 title "goal: p99 5 ms"
}
unset multiplot
unset logscale xy
unset xrange
unset xlabel

# ---- 3 and 4. fan-out and coalescing
set output out."/fanout_coalescing.png"
set multiplot layout 1,2
set style data histograms
set style histogram clustered gap 1
set key top right
set title "Fan-out to 4 Varnish nodes (requests/s, higher is better)"
set ylabel "requests/s"
set yrange [0:*]
set bmargin 4
plot data."/fanout.dat" using 2:xtic(1) notitle lc rgb "#4477aa", \
     "" using 0:2:(sprintf("%.0f", $2)) with labels offset 0,0.8 notitle
unset yrange
set title "Hot-tag coalescing: requests per node per 1 000 txns (lower is better)"
set ylabel "requests"
set xlabel "commit rate (txn/s)"
set logscale y
plot data."/coalescing.dat" using 2:xtic(1) title "PostgreSQL", \
     "" using 3 title "MariaDB", \
     "" using 4 title "one per transaction" lc rgb "#999999"
unset multiplot
