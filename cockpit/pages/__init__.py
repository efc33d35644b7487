"""Pages other than the overview: each module holds its layout, pure render functions and `register`."""
