//! A delete racing an identical generation (the builtin renderer is deterministic, and blobs are
//! content-addressed), in both orders, against a real local store whose deletes and puts can be held
//! at the point where the race bites.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use futures::stream::BoxStream;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{
    GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult,
};
use tokio::sync::{Notify, Semaphore};

use super::testing;
use super::{Engine, GenerateRequest, Open, Plan, Seed};
use crate::server::storage::BlobStore;
use crate::urls::placeholder::Size;

/// Holds every operation that passes it while closed, until opened.
#[derive(Debug)]
struct Gate {
    closed: AtomicBool,
    reached: Notify,
    open: Semaphore,
}

impl Gate {
    fn new() -> Self {
        Self {
            closed: AtomicBool::new(false),
            reached: Notify::new(),
            open: Semaphore::new(0),
        }
    }

    async fn pass(&self) {
        if self.closed.load(Ordering::SeqCst) {
            self.reached.notify_one();
            self.open.acquire().await.unwrap().forget();
        }
    }

    fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
    }

    fn open(&self) {
        self.closed.store(false, Ordering::SeqCst);
        self.open.add_permits(1);
    }

    async fn reached(&self) {
        self.reached.notified().await;
    }
}

/// A local store whose deletes wait at `deletes` before unlinking, and whose puts wait at `puts`
/// after writing.
#[derive(Debug)]
struct Gated {
    inner: LocalFileSystem,
    deletes: Arc<Gate>,
    puts: Arc<Gate>,
}

impl fmt::Display for Gated {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Gated({})", self.inner)
    }
}

#[async_trait::async_trait]
impl ObjectStore for Gated {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        let result = self.inner.put_opts(location, payload, opts).await;
        self.puts.pass().await;
        result
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(
        &self,
        location: &Path,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        self.inner.get_opts(location, options).await
    }

    async fn delete(&self, location: &Path) -> object_store::Result<()> {
        self.deletes.pass().await;
        self.inner.delete(location).await
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        self.inner.list(prefix)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> object_store::Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy(&self, from: &Path, to: &Path) -> object_store::Result<()> {
        self.inner.copy(from, to).await
    }

    async fn copy_if_not_exists(&self, from: &Path, to: &Path) -> object_store::Result<()> {
        self.inner.copy_if_not_exists(from, to).await
    }
}

async fn gated_engine(dir: &std::path::Path) -> (Engine, Arc<Gate>, Arc<Gate>) {
    let (deletes, puts) = (Arc::new(Gate::new()), Arc::new(Gate::new()));
    let root = dir.join("blobs");
    std::fs::create_dir_all(&root).unwrap();
    let store = Gated {
        inner: LocalFileSystem::new_with_prefix(&root).unwrap(),
        deletes: deletes.clone(),
        puts: puts.clone(),
    };
    // Without the local root, puts are not synced here: each returns as the gated put does, so the
    // generation's own check after its insert is what is tested.
    let engine = testing::engine(dir)
        .blobs(BlobStore::new(Arc::new(store)))
        .build()
        .await;
    (engine, deletes, puts)
}

fn plan(engine: &Engine) -> Plan {
    engine
        .plan(GenerateRequest {
            model: Some("builtin".into()),
            prompt: "a racing heron".into(),
            negative_prompt: None,
            seed: Seed::FromPrompt,
            steps: None,
            size: Some(Size {
                width: 64,
                height: 64,
            }),
            translate: false,
            redo: false,
            edit: None,
        })
        .unwrap()
}

/// The delete has read its rows and is about to unlink when the identical image is recorded: the
/// delete puts the bytes back.
#[tokio::test]
async fn an_image_recorded_while_a_delete_unlinks_keeps_its_blob() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, deletes, _) = gated_engine(dir.path()).await;
    let first = engine
        .generate(plan(&engine), Arc::new(Open))
        .await
        .unwrap();

    deletes.close();
    let deleting = tokio::spawn({
        let (engine, id) = (engine.clone(), first.record.id.clone());
        async move { engine.delete(&id).await }
    });
    deletes.reached().await;
    let again = engine
        .generate(plan(&engine), Arc::new(Open))
        .await
        .unwrap();
    assert_ne!(again.record.id, first.record.id, "a new row");
    assert_eq!(
        again.record.content_hash, first.record.content_hash,
        "the same blob"
    );
    deletes.open();
    assert!(deleting.await.unwrap().unwrap());

    let (_, bytes) = engine.original(&again.record.id).await.unwrap().unwrap();
    assert_eq!(Some(bytes), again.bytes);
}

/// The identical image's blob is written before the delete unlinks it, but its row only after the
/// delete has looked: the generation puts its blob back.
#[tokio::test]
async fn an_image_whose_put_a_delete_undid_puts_it_back() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, deletes, puts) = gated_engine(dir.path()).await;
    let first = engine
        .generate(plan(&engine), Arc::new(Open))
        .await
        .unwrap();

    deletes.close();
    let deleting = tokio::spawn({
        let (engine, id) = (engine.clone(), first.record.id.clone());
        async move { engine.delete(&id).await }
    });
    deletes.reached().await;
    puts.close();
    let generating = tokio::spawn({
        let engine = engine.clone();
        async move { engine.generate(plan(&engine), Arc::new(Open)).await }
    });
    puts.reached().await;
    deletes.open();
    assert!(deleting.await.unwrap().unwrap());
    puts.open();
    let again = generating.await.unwrap().unwrap();
    assert_eq!(again.record.content_hash, first.record.content_hash);

    let (_, bytes) = engine.original(&again.record.id).await.unwrap().unwrap();
    assert_eq!(Some(bytes), again.bytes);
}
