//! The future the adapters' traits return, boxed so that the traits can be used
//! as trait objects.

use std::future::Future;
use std::pin::Pin;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;
