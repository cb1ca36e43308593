module goscope.test/coretier

go 1.21
