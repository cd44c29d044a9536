package proxyd

// Helpers the external lab benchmark uses.
var (
	TreeRSS = treeRSS
	TreeCPU = treeCPU
)
