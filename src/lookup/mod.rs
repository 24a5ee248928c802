//! The post's scenario (chapter 8): the user-directory API and the clients that use it.
//!
//! Work in progress.
