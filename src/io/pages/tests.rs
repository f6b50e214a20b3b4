//! The page walker: every page in order, one page ahead, within the deadline.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use super::*;

/// A listing of `pages` pages of 3 numbers, that records which tokens were asked
/// for and how many fetches ran at once.
#[derive(Default)]
struct Listing {
    pages: usize,
    asked: Mutex<Vec<Option<String>>>,
    running: AtomicUsize,
    most_at_once: AtomicUsize,
    fail_at: Option<usize>,
    /// This page never comes.
    stall_at: Option<usize>,
    delay: Duration,
}

fn walk(listing: Arc<Listing>, deadline: Deadline) -> Pages<usize> {
    let fetch: Fetch<usize> = Arc::new(move |token: Option<String>| {
        let listing = Arc::clone(&listing);
        Box::pin(async move {
            listing.asked.lock().unwrap().push(token.clone());
            let now = listing.running.fetch_add(1, Ordering::SeqCst) + 1;
            listing.most_at_once.fetch_max(now, Ordering::SeqCst);
            let page: usize = token.map_or(0, |t| t.parse().unwrap());
            tokio::time::sleep(listing.delay).await;
            if listing.stall_at == Some(page) {
                std::future::pending::<()>().await;
            }
            listing.running.fetch_sub(1, Ordering::SeqCst);
            if listing.fail_at == Some(page) {
                return Err(Failure::aws("ThrottlingException", "slow down", true));
            }
            Ok(Page {
                items: (page * 3..page * 3 + 3).collect(),
                next: (page + 1 < listing.pages).then(|| (page + 1).to_string()),
            })
        }) as crate::io::future::BoxFuture<'static, _>
    });
    Pages::new(fetch, deadline)
}

fn far() -> Deadline {
    Deadline::after(Duration::from_secs(600))
}

async fn drain(pages: &mut Pages<usize>) -> (Vec<usize>, Option<Stop>) {
    let mut items = Vec::new();
    while let Some(page) = pages.next().await {
        match page {
            Ok(page) => items.extend(page),
            Err(stop) => return (items, Some(stop)),
        }
    }
    (items, None)
}

#[tokio::test]
async fn every_page_comes_in_order_each_asked_with_the_token_of_the_one_before() {
    let listing = Arc::new(Listing {
        pages: 4,
        ..Listing::default()
    });
    let mut pages = walk(Arc::clone(&listing), far());
    let (items, stop) = drain(&mut pages).await;
    assert_eq!(items, (0..12).collect::<Vec<_>>());
    assert_eq!(stop, None);
    assert_eq!(pages.read, 4);
    assert_eq!(
        *listing.asked.lock().unwrap(),
        [None, Some("1".into()), Some("2".into()), Some("3".into())]
    );
    assert!(pages.next().await.is_none(), "nothing after the last page");
}

#[tokio::test(start_paused = true)]
async fn the_next_page_is_fetched_while_one_is_read_and_never_more_than_one() {
    let listing = Arc::new(Listing {
        pages: 5,
        delay: Duration::from_millis(20),
        ..Listing::default()
    });
    let mut pages = walk(Arc::clone(&listing), far());
    let first = pages.next().await.unwrap().unwrap();
    assert_eq!(first, [0, 1, 2]);
    // The caller works on page 0 for a while: page 1 is being fetched meanwhile.
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(listing.asked.lock().unwrap().len(), 2);
    drain(&mut pages).await;
    assert_eq!(listing.most_at_once.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_failed_page_stops_the_listing_with_its_aws_code() {
    let listing = Arc::new(Listing {
        pages: 5,
        fail_at: Some(2),
        ..Listing::default()
    });
    let mut pages = walk(listing, far());
    let (items, stop) = drain(&mut pages).await;
    assert_eq!(items.len(), 6, "the two pages before the failure");
    let Some(Stop::Failed(failure)) = stop else {
        panic!("expected a failure, got {stop:?}");
    };
    assert_eq!(failure.code(), "ThrottlingException");
}

#[tokio::test(start_paused = true)]
async fn a_page_that_never_comes_stops_at_the_deadline() {
    let listing = Arc::new(Listing {
        pages: 5,
        stall_at: Some(1),
        ..Listing::default()
    });
    let mut pages = walk(listing, Deadline::after(Duration::from_secs(30)));
    let (items, stop) = drain(&mut pages).await;
    assert_eq!((items.len(), stop), (3, Some(Stop::Late)));
}

#[tokio::test(start_paused = true)]
async fn no_page_is_asked_for_too_close_to_the_deadline() {
    let listing = Arc::new(Listing {
        pages: 5,
        ..Listing::default()
    });
    let mut pages = walk(Arc::clone(&listing), Deadline::after(Deadline::START_RESERVE / 2));
    assert_eq!(pages.next().await, Some(Err(Stop::Late)));
    assert!(listing.asked.lock().unwrap().is_empty(), "nothing was asked for");
    assert_eq!(pages.next().await, None);
}

#[tokio::test(start_paused = true)]
async fn a_wait_given_up_loses_no_page() {
    let listing = Arc::new(Listing {
        pages: 2,
        delay: Duration::from_millis(100),
        ..Listing::default()
    });
    let mut pages = walk(Arc::clone(&listing), far());
    // Given up before the first page came (as a `select!` may give it up).
    assert!(tokio::time::timeout(Duration::from_millis(10), pages.next())
        .await
        .is_err());
    let (items, stop) = drain(&mut pages).await;
    assert_eq!((items, stop), ((0..6).collect::<Vec<_>>(), None));
    assert_eq!(listing.asked.lock().unwrap().len(), 2, "each page asked for once");
}
