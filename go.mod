module github.com/heraldrt/herald

go 1.26
