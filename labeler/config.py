"""Tuning constants and defaults, named in one place."""

# Ingest
MAX_PIXELS = 100_000_000  # width*height above this is refused as a decompression bomb
HASH_CHUNK = 1 << 20  # bytes read at a time while hashing a file or its pixel data
# Files read as images; DICOM also under other names, by its magic bytes (ingest.dicom).
DICOM_SUFFIXES = frozenset({".dcm", ".dicom"})
RASTER_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff"})
IMAGE_SUFFIXES = RASTER_SUFFIXES | DICOM_SUFFIXES

# Embedding
DEFAULT_BACKBONE = "efficientnet_lite0"
DEFAULT_BATCH_SIZE = 64
IMAGE_SIZES = (112, 160, 224)  # candidate network input sizes, smallest first
# Network input sides accepted at all: a floor the backbones need, and a ceiling far above
# IMAGE_SIZES (timm's largest backbones use 800) that refuses sizes no memory holds (at 100 000 px
# one image's input alone is 120 GB).
IMAGE_SIZE_RANGE = (16, 1024)

# Fine-tuning
ALL_BLOCKS = -1  # `finetune --blocks`: train the whole backbone

# Heads
PROTONET_TEMPERATURE = 0.1  # softmax over cosine similarity / temperature, before calibration

# Browser UI: live predictions use `predict`'s head up to this many images, the fast default above
LIVE_METHOD_MAX_IMAGES = 20_000

# Active learning
NEAR_DUPLICATE_COSINE = 0.98  # two suggestions closer than this are near-duplicates
TYPICALITY_NEIGHBOURS = 20  # k of TypiClust's typicality (inverse mean distance to k neighbours)
TYPICALITY_MAX_POINTS = 5000  # a bigger cluster is scored on a seeded sample of this many members
MAX_CLUSTERS = 200  # cap on the |labeled| + n clusters of the cold-start and auto policies
COVER_KMEANS_RESTARTS = 3  # k-means starts for those clusters (time grows with k² × starts)
CLUSTER_PREFILTER = 10  # uncertainty within diversity: cluster the n x this most uncertain images
# The auto policy trades typicality for uncertainty as labels accumulate, reaching pure uncertainty
# (within diversity) at this many labels per class (the low/high-budget "phase transition" of
# Hacohen et al. 2022 lies at a few labels per class).
AUTO_UNCERTAINTY_LABELS_PER_CLASS = 10
COMMITTEE_HEADS = ("protonet", "knn", "logreg")  # disagreement: these heads when registered...
COMMITTEE_BAGS = 5  # ...else the default head fitted on this many bootstrap resamples

# Project files
DB_NAME = "labeler.sqlite"
VECTORS_DIR = "vectors"
WEIGHTS_LOCK_NAME = "weights.lock"  # held by finetune and adapt while they run (labeler.locks)
KMEANS_ITERATIONS = 20
# k-means trains on a seeded sample of this many points per centre, then assigns every point.
# On 20 000 Fashion-MNIST vectors (1 280-d, k = 70, 3 starts): 0.5 s instead of 2.0 s at
# faiss's default of 256, mean cosine to the centre 0.817 instead of 0.821.
KMEANS_POINTS_PER_CENTROID = 64

# Embedding pipeline (labeler.embed)
OFFLINE_LITE0_BN_EPS = 1e-3  # batch-norm epsilon the bundled (TensorFlow-trained) weights expect
CHECKPOINT_KEY_HEX = 10  # hex digits of a local checkpoint's SHA-256 put in the embedder key
EMBED_MAX_WORKERS = 8  # decode workers at most on the CPU, where the forward needs the cores too
# Decode workers at most beside a GPU, where decoding is the bottleneck: on an H100 with 16 cores
# (alternating runs, best of 3), 15 workers embedded 20 000 28 px PNGs at 8 200 img/s against
# 6 900 with 8, and 6 000 512 px PNGs at 944 against 677 (the model alone: 21 000-25 000 and
# 8 000-8 700). Each worker holds two batches in flight (shared memory: 2 x batch x 3 x S x S x 4
# bytes), hence a cap for very large hosts.
EMBED_MAX_ACCELERATOR_WORKERS = 16
EMBED_PROBE_BATCHES = 2  # on the CPU, batches decoded in-process first to time decode vs forward
EMBED_CHECKPOINT_IMAGES = 2048  # vectors written to the cache this often: an interrupt keeps them
EMBED_WORKER_MIN_GAIN = 0.1  # use decode workers on the CPU only when predicted >= 10% faster
