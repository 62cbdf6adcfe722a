package spin

// Pause runs one PAUSE instruction: on AMD Zen 5 some tens of cycles, on recent Intel cores
// more than a hundred.
func Pause()
