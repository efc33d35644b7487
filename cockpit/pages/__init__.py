"""The cockpit's pages, one module each: its layout, its loaders, pure render functions and `register`."""
