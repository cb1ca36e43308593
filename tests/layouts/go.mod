module goscope.test/layouts

go 1.21
