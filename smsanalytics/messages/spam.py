"""Spam risk of SMS copy: a character n-gram linear SVM trained on the SMS Spam Collection.

The classifier (:class:`SpamClassifier`) is a TF-IDF of lower-cased character 2- to 5-grams taken
inside word boundaries (scikit-learn's ``char_wb`` analyzer, sublinear term frequency, L2
normalisation) feeding a linear support vector machine (``LinearSVC``, C = 10). The decision
threshold (−0.2) and Platt's sigmoid, which turns the SVM margin into a probability, are both fitted
on out-of-fold decisions of the training messages only.

The shipped model (``smsanalytics/messages/data/spam_model.npz``) is trained by
``smsanalytics message train-spam`` on the first 30 % of the collection, the training part of the
protocol of Almeida, Gómez Hidalgo and Yamakami (2011), so the evaluation on the remaining 70 %
reported in ``docs/messages.md`` is the evaluation of the very file that ships. It stores the
vocabulary, IDF weights, coefficients and calibration as plain arrays and JSON (no pickle), so it
loads with any scikit-learn version.

The features and C were chosen by repeated stratified 5-fold cross-validation on the training part
(highest mean MCC among settings with out-of-fold blocked ham at most 0.2 %), and the threshold on
out-of-fold margins (highest MCC with blocked ham at most 0.1 %); the tables and the order of events
are in ``docs/messages.md``.

Caveat: the collection is English (UK and Singapore, 2000s). Scores on French or on legitimate
marketing copy say "reads like the spam in that collection", which is what carriers' filters and
recipients react to, but they are not calibrated for those texts.

References
----------
T. A. Almeida, J. M. Gómez Hidalgo, A. Yamakami, "Contributions to the study of SMS spam filtering:
new collection and results", *Proc. 11th ACM Symposium on Document Engineering* (DocEng '11),
pp. 259-262, 2011.
J. Platt, "Probabilistic outputs for support vector machines and comparisons to regularized
likelihood methods", *Advances in Large Margin Classifiers*, 1999.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Final

import numpy as np
import polars as pl
import regex
import scipy.sparse as sp
from scipy.optimize import minimize
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.metrics import matthews_corrcoef
from sklearn.model_selection import StratifiedKFold
from sklearn.svm import LinearSVC

__all__ = [
    "SpamClassifier",
    "SpamFeature",
    "SpamScore",
    "SpamEvaluation",
    "SpamModelError",
    "SpamDataError",
    "SHIPPED_SPAM_MODEL",
    "SMS_SPAM_COLLECTION",
    "PAPER_BEST_RESULT",
    "load_sms_spam_collection",
    "split_like_almeida_2011",
    "evaluate_spam_classifier",
    "load_spam_model",
    "score_spam",
    "train_spam_model",
]

_PACKAGE_DIR: Final = Path(__file__).resolve().parent
#: The model file shipped with the package.
SHIPPED_SPAM_MODEL: Final = _PACKAGE_DIR / "data" / "spam_model.npz"
#: The vendored SMS Spam Collection (present in a source checkout, not in an installed wheel).
SMS_SPAM_COLLECTION: Final = (
    _PACKAGE_DIR.parents[1] / "data" / "external" / "sms_spam_collection" / "SMSSpamCollection"
)
_FORMAT: Final = "smsanalytics.spam/1"

#: Best result on the 30 % / 70 % split reported by Almeida et al. (2011), Table 4 (SVM on
#: "tok1" tokens): spam caught, blocked ham and accuracy in %, and MCC.
PAPER_BEST_RESULT: Final = {
    "classifier": "SVM + tok1 (Almeida et al. 2011)",
    "spam_caught_pct": 83.10,
    "blocked_ham_pct": 0.18,
    "accuracy_pct": 97.64,
    "mcc": 0.893,
}

_WHITESPACE: Final = regex.compile(r"\s\s+")


class SpamModelError(RuntimeError):
    """The spam model file is missing, corrupt or of an unknown format."""


class SpamDataError(FileNotFoundError):
    """The SMS Spam Collection file is missing or malformed."""


@dataclass(frozen=True)
class SpamFeature:
    """A word of the message and how much it pushed the score towards spam (> 0) or ham (< 0)."""

    term: str
    contribution: float


@dataclass(frozen=True)
class SpamScore:
    """Spam risk of one message.

    Attributes
    ----------
    probability
        Calibrated probability (Platt) that the text is spam, as the training data defines spam.
    is_spam_like
        Whether the SVM margin reaches the model's decision threshold.
    decision
        SVM margin (``coef · x + intercept``).
    threshold
        Margin from which a text is classified as spam.
    probability_threshold
        The probability matching ``threshold``.
    features
        Words that drove the score, by absolute contribution (character n-gram weights summed
        over each word).
    """

    probability: float
    is_spam_like: bool
    decision: float
    threshold: float
    probability_threshold: float
    features: tuple[SpamFeature, ...]


@dataclass(frozen=True)
class SpamEvaluation:
    """Filtering quality on labelled messages, with the measures of Almeida et al. (2011).

    Attributes
    ----------
    messages, spam, ham
        Test set sizes.
    true_positives, false_positives, false_negatives, true_negatives
        Confusion matrix with spam as the positive class.
    accuracy
        Share of messages classified correctly.
    spam_caught
        Recall on spam (SC).
    blocked_ham
        False-positive rate on ham (BH).
    mcc
        Matthews correlation coefficient.
    """

    messages: int
    spam: int
    ham: int
    true_positives: int
    false_positives: int
    false_negatives: int
    true_negatives: int
    accuracy: float
    spam_caught: float
    blocked_ham: float
    mcc: float


def _platt_fit(decisions: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """Platt (1999) sigmoid ``P(spam) = 1 / (1 + exp(-(a·d + b)))`` with smoothed targets."""
    positives = int(labels.sum())
    negatives = int(labels.size - positives)
    target = np.where(labels, (positives + 1.0) / (positives + 2.0), 1.0 / (negatives + 2.0))

    def loss(params: np.ndarray) -> tuple[float, np.ndarray]:
        z = params[0] * decisions + params[1]
        # log(1 + exp(z)) - t·z, numerically stable
        value = float(np.sum(np.logaddexp(0.0, z) - target * z))
        p = 0.5 * (1.0 + np.tanh(0.5 * z))
        grad = np.array([np.sum((p - target) * decisions), np.sum(p - target)])
        return value, grad

    prior = math.log((positives + 1.0) / (negatives + 1.0))
    result = minimize(loss, x0=np.array([1.0, prior]), jac=True, method="BFGS")
    return float(result.x[0]), float(result.x[1])


def _sigmoid(z: np.ndarray | float) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(z, dtype=float)))


class SpamClassifier(ClassifierMixin, BaseEstimator):
    """Character n-gram TF-IDF + linear SVM spam classifier with Platt-calibrated probabilities.

    Parameters
    ----------
    ngram_range
        Smallest and largest character n-gram (taken inside word boundaries, ``char_wb``).
    C
        Inverse regularisation of the linear SVM.
    threshold
        SVM margin from which a message is classified as spam.
    calibration_folds
        Folds of the out-of-fold decisions used to fit Platt's sigmoid.
    random_state
        Seed of the SVM solver and of the calibration folds (the fit is deterministic).

    Attributes
    ----------
    vocabulary_ : list of str
        The n-grams, in feature order.
    idf_ : ndarray of shape (n_features,)
    coef_ : ndarray of shape (n_features,)
    intercept_ : float
    platt_ : tuple of float
        Sigmoid slope and offset.
    classes_ : ndarray
        ``[0, 1]`` (1 = spam).

    Examples
    --------
    >>> clf = SpamClassifier().fit(
    ...     ["WIN a FREE prize, txt WIN to 80082", "are we still on for lunch?"] * 5,
    ...     [1, 0] * 5,
    ... )
    >>> clf.predict(["FREE prize! txt now", "lunch at noon?"]).tolist()
    [1, 0]
    """

    def __init__(
        self,
        ngram_range: tuple[int, int] = (2, 5),
        C: float = 10.0,
        threshold: float = -0.2,
        calibration_folds: int = 5,
        random_state: int = 0,
    ) -> None:
        self.ngram_range = ngram_range
        self.C = C
        self.threshold = threshold
        self.calibration_folds = calibration_folds
        self.random_state = random_state

    # -- features ------------------------------------------------------------------------------
    def _tfidf(self) -> TfidfVectorizer:
        return TfidfVectorizer(
            analyzer="char_wb",
            ngram_range=tuple(self.ngram_range),
            lowercase=True,
            sublinear_tf=True,
            norm="l2",
            dtype=np.float64,
        )

    def _counter(self) -> CountVectorizer:
        return CountVectorizer(
            analyzer="char_wb",
            ngram_range=tuple(self.ngram_range),
            lowercase=True,
            vocabulary={term: i for i, term in enumerate(self.vocabulary_)},
            dtype=np.float64,
        )

    def _svm(self) -> LinearSVC:
        return LinearSVC(C=self.C, random_state=self.random_state, max_iter=20_000)

    def transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        """TF-IDF features of ``texts`` (sublinear tf × idf, rows L2-normalised)."""
        self._check_fitted()
        counts = self._counter().transform(list(texts)).tocsr()
        counts.data = 1.0 + np.log(counts.data)
        weighted = counts.multiply(self.idf_[np.newaxis, :]).tocsr()
        norms = np.sqrt(np.asarray(weighted.multiply(weighted).sum(axis=1)).ravel())
        norms[norms == 0.0] = 1.0
        return sp.csr_matrix(sp.diags(1.0 / norms) @ weighted)

    def _check_fitted(self) -> None:
        if not hasattr(self, "coef_"):
            raise SpamModelError(
                "this SpamClassifier is not fitted; call fit(texts, labels) or load the shipped "
                "model with load_spam_model()."
            )

    # -- fit -----------------------------------------------------------------------------------
    def fit(self, texts: Sequence[str], y: Sequence[int] | np.ndarray) -> SpamClassifier:
        """Fit the vectoriser, the SVM and Platt's sigmoid.

        Parameters
        ----------
        texts
            Message bodies.
        y
            1 (or ``True``) for spam, 0 for ham.

        Returns
        -------
        SpamClassifier
            ``self``.

        Raises
        ------
        ValueError
            If ``texts`` and ``y`` differ in length or a class is missing.
        """
        texts = list(texts)
        labels = np.asarray(y).astype(bool)
        if len(texts) != labels.size:
            raise ValueError(
                f"texts has {len(texts)} messages but y has {labels.size} labels; pass one label "
                "per message."
            )
        if labels.all() or not labels.any():
            raise ValueError("y must contain both spam (1) and ham (0) messages.")
        tfidf = self._tfidf()
        features = tfidf.fit_transform(texts)
        svm = self._svm().fit(features, labels)
        vocabulary = sorted(tfidf.vocabulary_, key=tfidf.vocabulary_.__getitem__)

        # Out-of-fold margins for the calibration, refitting the whole pipeline in each fold.
        folds = StratifiedKFold(
            n_splits=self.calibration_folds, shuffle=True, random_state=self.random_state
        )
        oof = np.zeros(labels.size)
        text_array = np.asarray(texts, dtype=object)
        for train, held_out in folds.split(text_array, labels):
            fold_tfidf = self._tfidf()
            fold_svm = self._svm().fit(fold_tfidf.fit_transform(text_array[train]), labels[train])
            oof[held_out] = fold_svm.decision_function(fold_tfidf.transform(text_array[held_out]))

        self.vocabulary_ = vocabulary
        self.idf_ = np.asarray(tfidf.idf_, dtype=np.float64)
        self.coef_ = np.asarray(svm.coef_, dtype=np.float64).ravel()
        self.intercept_ = float(svm.intercept_[0])
        self.platt_ = _platt_fit(oof, labels)
        self.classes_ = np.array([0, 1])
        self.n_features_in_ = 1
        return self

    # -- predict -------------------------------------------------------------------------------
    def decision_function(self, texts: Sequence[str]) -> np.ndarray:
        """SVM margin of each text (``>= threshold`` means spam)."""
        return np.asarray(self.transform(texts) @ self.coef_).ravel() + self.intercept_

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Calibrated ``[P(ham), P(spam)]`` per text, shape ``(n, 2)``."""
        a, b = self.platt_
        p = _sigmoid(a * self.decision_function(texts) + b)
        return np.column_stack([1.0 - p, p])

    def predict(self, texts: Sequence[str]) -> np.ndarray:
        """1 for spam, 0 for ham, by comparing the margin with :attr:`threshold`."""
        return (self.decision_function(texts) >= self.threshold).astype(int)

    @property
    def probability_threshold(self) -> float:
        """Calibrated probability at the decision threshold."""
        a, b = self.platt_
        return float(_sigmoid(a * self.threshold + b))

    def explain(self, text: str, top: int = 5) -> SpamScore:
        """Spam probability of ``text`` with the words that drove it.

        Each character n-gram's contribution (its TF-IDF value × SVM weight) is shared among the
        words it occurs in, so word contributions add up to the margin minus the intercept.

        Parameters
        ----------
        text
            The message.
        top
            Number of words to return.

        Returns
        -------
        SpamScore
        """
        self._check_fitted()
        features = self.transform([text])
        row = features.getrow(0)
        contribution = dict(
            zip(row.indices.tolist(), (row.data * self.coef_[row.indices]).tolist(), strict=True)
        )
        analyzer = self._counter().build_analyzer()
        index = {term: i for i, term in enumerate(self.vocabulary_)} if contribution else {}
        words = _WHITESPACE.sub(" ", text.lower()).split()
        per_word_grams = [[index[g] for g in analyzer(word) if g in index] for word in words]
        occurrences: dict[int, int] = {}
        for grams in per_word_grams:
            for j in grams:
                occurrences[j] = occurrences.get(j, 0) + 1
        scores: dict[str, float] = {}
        for word, grams in zip(words, per_word_grams, strict=True):
            value = sum(contribution.get(j, 0.0) / occurrences[j] for j in grams)
            scores[word] = scores.get(word, 0.0) + value
        ranked = sorted(scores.items(), key=lambda item: (-abs(item[1]), item[0]))[:top]
        decision = float(row.data @ self.coef_[row.indices]) + self.intercept_
        a, b = self.platt_
        return SpamScore(
            probability=float(_sigmoid(a * decision + b)),
            is_spam_like=decision >= self.threshold,
            decision=decision,
            threshold=float(self.threshold),
            probability_threshold=self.probability_threshold,
            features=tuple(SpamFeature(term, round(value, 6)) for term, value in ranked),
        )

    # -- persistence ---------------------------------------------------------------------------
    def save(self, path: str | Path, *, metadata: dict[str, Any] | None = None) -> Path:
        """Write the fitted model as compressed arrays and JSON (no pickle).

        Parameters
        ----------
        path
            Destination ``.npz`` file.
        metadata
            Extra JSON-serialisable provenance (training data hash, split, evaluation …).

        Returns
        -------
        Path
        """
        self._check_fitted()
        path = Path(path)
        header = {
            "format": _FORMAT,
            "params": {
                "ngram_range": list(self.ngram_range),
                "C": self.C,
                "threshold": self.threshold,
                "calibration_folds": self.calibration_folds,
                "random_state": self.random_state,
            },
            "intercept": self.intercept_,
            "platt": list(self.platt_),
            "vocabulary": self.vocabulary_,
            "metadata": metadata or {},
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as handle:
            np.savez_compressed(
                handle,
                header=np.array(json.dumps(header, ensure_ascii=False, sort_keys=True)),
                idf=self.idf_,
                coef=self.coef_,
            )
        return path

    @classmethod
    def load(cls, path: str | Path) -> SpamClassifier:
        """Read a model written by :meth:`save`.

        Raises
        ------
        SpamModelError
            If the file is missing or not a model of this format.
        """
        path = Path(path)
        if not path.is_file():
            raise SpamModelError(
                f"spam model file {path} does not exist; train it with "
                "`smsanalytics message train-spam` (it writes the shipped model by default)."
            )
        try:
            with np.load(path, allow_pickle=False) as data:
                header = json.loads(str(data["header"]))
                idf = np.asarray(data["idf"], dtype=np.float64)
                coef = np.asarray(data["coef"], dtype=np.float64)
        except (OSError, ValueError, KeyError) as error:
            raise SpamModelError(
                f"cannot read spam model {path}: {error}; retrain it with "
                "`smsanalytics message train-spam`."
            ) from error
        if header.get("format") != _FORMAT:
            raise SpamModelError(
                f"spam model {path} has format {header.get('format')!r}, expected {_FORMAT!r}; "
                "retrain it with `smsanalytics message train-spam`."
            )
        params = header["params"]
        model = cls(
            ngram_range=tuple(params["ngram_range"]),
            C=params["C"],
            threshold=params["threshold"],
            calibration_folds=params["calibration_folds"],
            random_state=params["random_state"],
        )
        if not (len(header["vocabulary"]) == idf.size == coef.size):
            raise SpamModelError(
                f"spam model {path} is inconsistent (vocabulary, idf and coef sizes differ); "
                "retrain it with `smsanalytics message train-spam`."
            )
        model.vocabulary_ = list(header["vocabulary"])
        model.idf_ = idf
        model.coef_ = coef
        model.intercept_ = float(header["intercept"])
        model.platt_ = (float(header["platt"][0]), float(header["platt"][1]))
        model.classes_ = np.array([0, 1])
        model.n_features_in_ = 1
        model.metadata_ = header.get("metadata", {})
        return model


# -- data and protocol -------------------------------------------------------------------------
def load_sms_spam_collection(path: str | Path | None = None) -> pl.DataFrame:
    """Read the SMS Spam Collection v.1 (``label<TAB>text`` per line), in file order.

    Parameters
    ----------
    path
        The ``SMSSpamCollection`` file; defaults to the copy vendored in
        ``data/external/sms_spam_collection/``.

    Returns
    -------
    polars.DataFrame
        Columns ``label`` (String, ``ham``/``spam``), ``text`` (String), ``is_spam`` (Boolean);
        5,574 rows for the vendored file.

    Raises
    ------
    SpamDataError
        If the file is missing or a line is not ``ham|spam<TAB>text``.
    """
    path = Path(path) if path is not None else SMS_SPAM_COLLECTION
    if not path.is_file():
        raise SpamDataError(
            f"SMS Spam Collection not found at {path}; run from a source checkout (it is vendored "
            "in data/external/sms_spam_collection/) or pass the file with --data."
        )
    labels: list[str] = []
    texts: list[str] = []
    with path.open(encoding="utf-8", newline="\n") as handle:
        for number, line in enumerate(handle, start=1):
            label, sep, text = line.rstrip("\n").partition("\t")
            if not sep or label not in {"ham", "spam"}:
                raise SpamDataError(
                    f"{path} line {number} is not 'ham<TAB>text' or 'spam<TAB>text'; use the "
                    "unmodified SMSSpamCollection file."
                )
            labels.append(label)
            texts.append(text)
    return pl.DataFrame({"label": labels, "text": texts}).with_columns(
        (pl.col("label") == "spam").alias("is_spam")
    )


def split_like_almeida_2011(
    collection: pl.DataFrame, train_fraction: float = 0.3
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The protocol of Almeida et al. (2011): train on the first 30 %, test on the remaining 70 %.

    Parameters
    ----------
    collection
        :func:`load_sms_spam_collection` output, in file order.
    train_fraction
        Share of the first messages used for training (1,672 of 5,574 at 0.3).

    Returns
    -------
    tuple of polars.DataFrame
        ``(train, test)``.
    """
    cut = int(collection.height * train_fraction)
    return collection.head(cut), collection.slice(cut)


def evaluate_spam_classifier(
    model: SpamClassifier, texts: Sequence[str], is_spam: Sequence[bool] | np.ndarray
) -> SpamEvaluation:
    """Accuracy, spam caught, blocked ham and MCC of ``model`` on labelled messages.

    Parameters
    ----------
    model
        A fitted :class:`SpamClassifier`.
    texts
        Messages.
    is_spam
        True labels.

    Returns
    -------
    SpamEvaluation
    """
    truth = np.asarray(is_spam).astype(bool)
    predicted = model.predict(list(texts)).astype(bool)
    tp = int(np.sum(predicted & truth))
    fp = int(np.sum(predicted & ~truth))
    fn = int(np.sum(~predicted & truth))
    tn = int(np.sum(~predicted & ~truth))
    n = truth.size
    return SpamEvaluation(
        messages=n,
        spam=tp + fn,
        ham=fp + tn,
        true_positives=tp,
        false_positives=fp,
        false_negatives=fn,
        true_negatives=tn,
        accuracy=(tp + tn) / n if n else float("nan"),
        spam_caught=tp / (tp + fn) if tp + fn else float("nan"),
        blocked_ham=fp / (fp + tn) if fp + tn else float("nan"),
        mcc=float(matthews_corrcoef(truth, predicted)),
    )


def train_spam_model(
    data: str | Path | None = None,
    *,
    output: str | Path | None = SHIPPED_SPAM_MODEL,
    use: str = "paper-train",
) -> tuple[SpamClassifier, SpamEvaluation | None]:
    """Train the spam model reproducibly and (for the paper split) evaluate it on the test part.

    Parameters
    ----------
    data
        ``SMSSpamCollection`` file (default: the vendored copy).
    output
        Where to write the model (default: the file shipped in the package); ``None`` to skip.
    use
        ``"paper-train"`` (default): fit on the first 30 % and evaluate on the remaining 70 %, as
        Almeida et al. (2011); this is the shipped model. ``"all"``: fit on the whole collection
        (no held-out evaluation).

    Returns
    -------
    tuple
        The fitted model and its evaluation on the test part (``None`` for ``use="all"``).

    Raises
    ------
    ValueError
        If ``use`` is unknown.
    SpamDataError
        If the collection is missing.
    """
    import hashlib

    if use not in {"paper-train", "all"}:
        raise ValueError(f"use must be 'paper-train' or 'all', got {use!r}.")
    path = Path(data) if data is not None else SMS_SPAM_COLLECTION
    collection = load_sms_spam_collection(path)
    if use == "paper-train":
        train, test = split_like_almeida_2011(collection)
    else:
        train, test = collection, None
    model = SpamClassifier().fit(
        train.get_column("text").to_list(), train.get_column("is_spam").to_numpy()
    )
    evaluation = (
        evaluate_spam_classifier(
            model, test.get_column("text").to_list(), test.get_column("is_spam").to_numpy()
        )
        if test is not None
        else None
    )
    if output is not None:
        metadata = {
            "training_data": "SMS Spam Collection v.1 (Almeida & Gómez Hidalgo)",
            "training_data_sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
            "training_rows": f"first {train.height} of {collection.height}"
            if use == "paper-train"
            else f"all {collection.height}",
            "use": use,
            "evaluation_on_remaining_70pct": None
            if evaluation is None
            else {k: v for k, v in evaluation.__dict__.items()},
        }
        model.save(output, metadata=metadata)
        if Path(output).resolve() == SHIPPED_SPAM_MODEL.resolve():
            load_spam_model.cache_clear()
    return model, evaluation


@lru_cache(maxsize=4)
def load_spam_model(path: str | Path | None = None) -> SpamClassifier:
    """Load (once, then cached) the shipped spam model or the one at ``path``.

    Raises
    ------
    SpamModelError
        If the file is missing or unreadable.
    """
    return SpamClassifier.load(path if path is not None else SHIPPED_SPAM_MODEL)


def score_spam(text: str, model: SpamClassifier | None = None, *, top: int = 5) -> SpamScore:
    """Spam probability of ``text`` with the words that drove it (shipped model by default).

    Parameters
    ----------
    text
        The message body.
    model
        A fitted :class:`SpamClassifier`; defaults to :func:`load_spam_model`.
    top
        Number of words returned in ``features``.

    Returns
    -------
    SpamScore

    Examples
    --------
    >>> score_spam("URGENT! You have WON a £1000 prize. Txt CLAIM to 81010 now").is_spam_like
    True
    """
    return (model or load_spam_model()).explain(text, top=top)
