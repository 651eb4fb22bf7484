package ec2doc

//go:generate go run ./docgen -ops operations.txt -o inputs_gen.go
