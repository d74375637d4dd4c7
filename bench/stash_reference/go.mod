module videolib/bench/stash_reference

go 1.19

require (
	github.com/corona10/goimagehash v1.1.0
	github.com/disintegration/imaging v1.6.2
	github.com/nfnt/resize v0.0.0-20180221191011-83c6a9932646
	golang.org/x/image v0.0.0-20191009234506-e7c1f5e7dbb8
)
