/**
 * @since 0.1.0
 */
// placeholder: implemented by its issue
export {}
