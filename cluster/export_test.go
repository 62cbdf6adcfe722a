package cluster

// StoreDir returns the embedded server's store directory ("" for none).
func StoreDir(p *Pool) string { return p.dir }
