module goscope.bench/heapbig

go 1.21
