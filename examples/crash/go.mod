module goscope.example/crash

go 1.21
