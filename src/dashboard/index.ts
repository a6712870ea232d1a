// placeholder: implemented by its issue
export {}
