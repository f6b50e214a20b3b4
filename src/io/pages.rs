//! Paged AWS listings (the Tagging API's `GetResources`, AWS Backup's
//! `ListProtectedResources` and `ListBackupJobs`), read one page ahead: while the
//! caller works on a page, the next one is already being fetched, and no fetch
//! starts or runs past the invocation's deadline. Memory holds the page being read
//! and the page being fetched, whatever the length of the listing.

use std::sync::Arc;

use tokio::task::JoinHandle;
use tokio::time::timeout_at;

use crate::core::error::Error;
use crate::core::job::Failure;
use crate::io::future::BoxFuture;
use crate::io::send::Deadline;

/// One page of a listing, and where the next one starts (None: this was the last).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<String>,
}

/// Fetches the page that starts at a token (None: the first).
pub type Fetch<T> = Arc<dyn Fn(Option<String>) -> BoxFuture<'static, Result<Page<T>, Failure>> + Send + Sync>;

/// Why a listing stopped before its last page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stop {
    /// The call failed (after the SDK's retries).
    Failed(Failure),
    /// The invocation's deadline came first: a page was not asked for, or did not come.
    Late,
}

enum Next<T> {
    Fetching(JoinHandle<Result<Page<T>, Failure>>),
    /// A next page exists, but too little time was left to ask for it.
    TooLate,
    Done,
}

/// The pages of one listing, in order.
pub struct Pages<T> {
    fetch: Fetch<T>,
    next: Next<T>,
    deadline: Deadline,
    /// Pages read so far.
    pub read: usize,
}

impl<T: Send + 'static> Pages<T> {
    /// Starts fetching the first page at once.
    pub fn new(fetch: Fetch<T>, deadline: Deadline) -> Pages<T> {
        let mut pages = Pages {
            fetch,
            next: Next::Done,
            deadline,
            read: 0,
        };
        pages.ask(None);
        pages
    }

    /// The next page's items, while the page after it is fetched; None after the last
    /// page. Cancel-safe: dropped while waiting, the page being fetched is kept for
    /// the next call.
    pub async fn next(&mut self) -> Option<Result<Vec<T>, Stop>> {
        let fetching = match &mut self.next {
            Next::Done => return None,
            Next::TooLate => {
                self.next = Next::Done;
                return Some(Err(Stop::Late));
            }
            Next::Fetching(fetching) => fetching,
        };
        let fetched = timeout_at(self.deadline.give_up_at(), fetching).await;
        self.clear();
        let page = match fetched {
            Err(_) => return Some(Err(Stop::Late)),
            Ok(Err(join_error)) => {
                return Some(Err(Stop::Failed(Failure {
                    error: Error::Internal(format!(
                        "backup-trigger failed while reading a listing ({})",
                        if join_error.is_panic() { "panic" } else { "cancelled" }
                    )),
                    retryable: true,
                })))
            }
            Ok(Ok(Err(failure))) => return Some(Err(Stop::Failed(failure))),
            Ok(Ok(Ok(page))) => page,
        };
        self.read += 1;
        if let Some(token) = page.next {
            self.ask(Some(token));
        }
        Some(Ok(page.items))
    }

    fn ask(&mut self, token: Option<String>) {
        self.next = if self.deadline.too_late_to_start() {
            Next::TooLate
        } else {
            Next::Fetching(tokio::spawn((self.fetch)(token)))
        };
    }

    /// Forgets the page asked for (stopping its fetch if it is still running).
    fn clear(&mut self) {
        if let Next::Fetching(fetching) = std::mem::replace(&mut self.next, Next::Done) {
            fetching.abort();
        }
    }
}

impl<T> Drop for Pages<T> {
    fn drop(&mut self) {
        if let Next::Fetching(fetching) = &self.next {
            fetching.abort();
        }
    }
}

#[cfg(test)]
mod tests;
