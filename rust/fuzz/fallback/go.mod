module goscope.example/fuzzfallback

go 1.21
