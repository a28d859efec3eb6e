"""``rgrad.nn.utils.rnn``: variable-length batches for the recurrent layers (``PackedSequence``,
``pack_padded_sequence``, ``pad_packed_sequence``, ``pad_sequence``, ``pack_sequence``, ...).

Packing and unpacking are single index_select gathers, so gradients flow through both."""

from collections import namedtuple

import numpy as np

from ... import _C
from ..._creation import as_tensor, full, tensor
from ..._indexing_ops import cat, stack
from .. import functional as F

__all__ = ["PackedSequence", "invert_permutation", "pack_padded_sequence", "pad_packed_sequence", "pad_sequence",
           "unpad_sequence", "pack_sequence", "unpack_sequence"]


class PackedSequence(namedtuple("PackedSequence_", ["data", "batch_sizes", "sorted_indices", "unsorted_indices"])):
    """A batch of sequences packed time step by time step: `data` holds step 0 of every
    sequence, then step 1 of those still running, ...; ``batch_sizes[t]`` counts the sequences at
    step t (sorted longest first; ``sorted_indices`` maps back to the caller's order).

    Build one with :func:`pack_padded_sequence` or :func:`pack_sequence`.
    """

    __slots__ = ()

    def __new__(cls, data, batch_sizes=None, sorted_indices=None, unsorted_indices=None):
        if unsorted_indices is None:
            unsorted_indices = invert_permutation(sorted_indices)
        if batch_sizes is None:
            if not (isinstance(data, (list, tuple)) and len(data) == 2):
                raise AssertionError("Expected data to be a list or tuple of length 2")
            data, batch_sizes = data
        return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)

    def to(self, *args, **kwargs):
        data = self.data.to(*args, **kwargs)
        if data is self.data:
            return self
        # As torch: the indices follow the data's device, batch_sizes stays on the CPU.
        sorted_indices, unsorted_indices = (None if i is None else i.to(data.device)
                                            for i in (self.sorted_indices, self.unsorted_indices))
        return type(self)(data, self.batch_sizes, sorted_indices, unsorted_indices)

    def cpu(self, *args, **kwargs):
        return self.to("cpu")

    def cuda(self, *args, **kwargs):
        return self.to(self.data.cuda(*args, **kwargs).device)

    def double(self):
        return self.to(dtype=_C.float64)

    def float(self):
        return self.to(dtype=_C.float32)

    def half(self):
        return self.to(dtype=_C.float16)

    def long(self):
        return self.to(dtype=_C.int64)

    def int(self):
        return self.to(dtype=_C.int32)

    @property
    def is_cuda(self):
        return self.data.is_cuda

    def is_pinned(self):
        return False


def invert_permutation(permutation):
    """The inverse of a permutation given as an index tensor (None stays None)."""
    if permutation is None:
        return None
    inv = np.empty(permutation.numel(), dtype=np.int64)
    inv[permutation.cpu().numpy()] = np.arange(permutation.numel())
    return tensor(inv, device=permutation.device)


def _batch_sizes(lengths):
    """batch_sizes[t] = number of sequences longer than t, for lengths sorted longest first."""
    steps = np.arange(int(lengths[0]))
    return (lengths[None, :] > steps[:, None]).sum(1)


def pack_padded_sequence(input, lengths, batch_first=False, enforce_sorted=True):
    """Packs a padded batch (T, B, *) (or (B, T, *) with `batch_first`) of sequences of the given
    `lengths`. With ``enforce_sorted=True`` lengths must be decreasing; otherwise the batch is
    sorted here and the permutation kept in the result.

    Example::

        >>> x = rgrad.randn(4, 2, 3)                      # T=4, B=2
        >>> packed = pack_padded_sequence(x, [4, 2])
        >>> packed.batch_sizes
        tensor([2, 2, 1, 1])
    """
    lens = np.asarray(lengths.tolist() if isinstance(lengths, _C.Tensor) else lengths, dtype=np.int64).reshape(-1)
    sorted_indices = None
    if not enforce_sorted:
        order = np.argsort(-lens, kind="stable")
        lens = lens[order]
        sorted_indices = tensor(order, device=input.device)
        input = input.index_select(0 if batch_first else 1, sorted_indices)
    elif np.any(lens[:-1] < lens[1:]):
        raise RuntimeError("`lengths` array must be sorted in decreasing order when `enforce_sorted` is True. You "
                           "can pass `enforce_sorted=False` to pack_padded_sequence and/or pack_sequence to sidestep "
                           "this requirement if you do not need ONNX exportability.")
    if lens.size and lens[-1] <= 0:
        raise RuntimeError("Length of all samples has to be greater than 0, but found an element in 'lengths' that "
                           "is <= 0")
    if batch_first:
        input = input.transpose(0, 1)
    T, B = input.shape[0], input.shape[1]
    if lens[0] > T:
        raise RuntimeError(f"Expected max length {lens[0]} to be at most the padded length {T}")
    bs = _batch_sizes(lens)
    # Row t * B + b of the (T * B, *) view for every live (t, b), time step by time step.
    rows = np.concatenate([t * B + np.arange(b) for t, b in enumerate(bs)])
    data = input.reshape(T * B, *input.shape[2:]).index_select(0, tensor(rows, device=input.device))
    # batch_sizes (and the lengths pad_packed_sequence returns) live on the CPU, as in torch.
    return PackedSequence(data, tensor(bs, device="cpu"), sorted_indices, None)


def pad_packed_sequence(sequence, batch_first=False, padding_value=0.0, total_length=None):
    """Inverse of :func:`pack_padded_sequence`: returns (padded (T, B, *) or (B, T, *), lengths)
    in the caller's original batch order."""
    bs = np.asarray(sequence.batch_sizes.tolist(), dtype=np.int64)
    max_len = len(bs)
    if total_length is not None:
        if total_length < max_len:
            raise ValueError("Expected total_length to be at least the length of the longest sequence in input, but "
                             f"got total_length={total_length} and max sequence length being {max_len}")
        max_len = total_length
    B = int(bs[0])
    data = sequence.data
    # Gather every (t, b) from its packed row; padded slots read one extra row of padding_value.
    pad_row = full((1, *data.shape[1:]), padding_value, dtype=data.dtype, device=data.device)
    src = np.full((max_len, B), data.shape[0], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(bs)[:-1]])
    for t, (off, b) in enumerate(zip(offsets, bs)):
        src[t, :b] = off + np.arange(b)
    index = tensor(src.reshape(-1), device=data.device)
    padded = cat([data, pad_row]).index_select(0, index).reshape(max_len, B, *data.shape[1:])
    lengths = (bs[None, :] > np.arange(B)[:, None]).sum(1)
    if batch_first:
        padded = padded.transpose(0, 1)
    lengths = tensor(lengths, device="cpu")
    if sequence.unsorted_indices is not None:
        padded = padded.index_select(0 if batch_first else 1, sequence.unsorted_indices)
        lengths = lengths.index_select(0, sequence.unsorted_indices.cpu())
    return padded, lengths


def pad_sequence(sequences, batch_first=False, padding_value=0.0, padding_side="right"):
    """Stacks tensors of shape (L_i, *) into (max L, B, *) (or (B, max L, *)), padding with
    `padding_value` on the `padding_side` ('right' or 'left')."""
    if isinstance(sequences, _C.Tensor):
        sequences = sequences.unbind(0)
    sequences = list(sequences)
    if padding_side not in ("left", "right"):
        raise ValueError(f"Expected padding_side to be one of left or right, but got {padding_side}.")
    max_len = max(s.shape[0] for s in sequences)
    padded = []
    for s in sequences:
        extra = max_len - s.shape[0]
        amount = [0, 0] * (s.dim() - 1) + ([0, extra] if padding_side == "right" else [extra, 0])
        padded.append(F.pad(s, amount, value=padding_value) if extra else s)
    return stack(padded, 0 if batch_first else 1)


def unpad_sequence(padded_sequences, lengths, batch_first=False):
    """Splits a padded batch back into a list of tensors of the given lengths."""
    if not batch_first:
        padded_sequences = padded_sequences.transpose(0, 1)
    return [seq.narrow(0, 0, int(n)) for seq, n in zip(padded_sequences.unbind(0), lengths.tolist()
                                                         if isinstance(lengths, _C.Tensor) else lengths)]


def pack_sequence(sequences, enforce_sorted=True):
    """Packs a list of (L_i, *) tensors (longest first unless ``enforce_sorted=False``)."""
    lengths = as_tensor([s.shape[0] for s in sequences])
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


def unpack_sequence(packed_sequences):
    """Inverse of :func:`pack_sequence`: the list of (L_i, *) tensors."""
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)
