#include "gateway/proof/merkle.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gateway/common/digest.h"

namespace iicc::proof {
namespace {

// RFC 9162 section 2.1.1: the prefixes that keep a leaf from passing as a node.
constexpr char kLeafPrefix = '\x00';
constexpr char kNodePrefix = '\x01';

std::string NodeHash(absl::string_view left, absl::string_view right) {
  std::string input;
  input.reserve(1 + left.size() + right.size());
  input.push_back(kNodePrefix);
  input.append(left.data(), left.size());
  input.append(right.data(), right.size());
  return Sha256(input);
}

// The largest power of two below n. REQUIRES: n > 1.
size_t SplitPoint(size_t n) {
  size_t k = 1;
  while (k < n - k) k <<= 1;
  return k;
}

// The subtrees below take (first leaf, number of leaves) instead of copies.
std::string SubtreeRoot(const std::string* leaves, size_t n) {
  if (n == 1) return leaves[0];
  const size_t k = SplitPoint(n);
  return NodeHash(SubtreeRoot(leaves, k), SubtreeRoot(leaves + k, n - k));
}

void AppendPath(const std::string* leaves, size_t n, size_t m, std::vector<std::string>* path) {
  if (n == 1) return;
  const size_t k = SplitPoint(n);
  if (m < k) {
    AppendPath(leaves, k, m, path);
    path->push_back(SubtreeRoot(leaves + k, n - k));
  } else {
    AppendPath(leaves + k, n - k, m - k, path);
    path->push_back(SubtreeRoot(leaves, k));
  }
}

// Each node's hash is computed once and appended to the paths of the leaves
// under its sibling; deeper siblings are appended first, as PATH orders them.
std::string BuildSubtree(const std::string* leaves, size_t n, std::vector<std::string>* paths) {
  if (n == 1) return leaves[0];
  const size_t k = SplitPoint(n);
  const std::string left = BuildSubtree(leaves, k, paths);
  const std::string right = BuildSubtree(leaves + k, n - k, paths + k);
  for (size_t i = 0; i < k; ++i) paths[i].push_back(right);
  for (size_t i = k; i < n; ++i) paths[i].push_back(left);
  return NodeHash(left, right);
}

}  // namespace

std::string LeafHash(absl::string_view data) {
  std::string input;
  input.reserve(1 + data.size());
  input.push_back(kLeafPrefix);
  input.append(data.data(), data.size());
  return Sha256(input);
}

std::string MerkleRoot(const std::vector<std::string>& leaf_hashes) {
  if (leaf_hashes.empty()) return Sha256("");
  return SubtreeRoot(leaf_hashes.data(), leaf_hashes.size());
}

std::vector<std::string> InclusionPath(const std::vector<std::string>& leaf_hashes, size_t index) {
  std::vector<std::string> path;
  if (index < leaf_hashes.size()) AppendPath(leaf_hashes.data(), leaf_hashes.size(), index, &path);
  return path;
}

MerkleTree BuildMerkleTree(const std::vector<std::string>& leaf_hashes) {
  MerkleTree tree;
  if (leaf_hashes.empty()) {
    tree.root = Sha256("");
    return tree;
  }
  tree.paths.resize(leaf_hashes.size());
  tree.root = BuildSubtree(leaf_hashes.data(), leaf_hashes.size(), tree.paths.data());
  return tree;
}

absl::StatusOr<std::string> RootFromInclusionPath(absl::string_view leaf_hash, uint64_t index, uint64_t count,
                                                  const std::vector<std::string>& path) {
  if (index >= count) {
    return absl::InvalidArgumentError(absl::StrCat("leaf index ", index, " is not below the leaf count ", count));
  }
  if (leaf_hash.size() != kMerkleHashSize) {
    return absl::InvalidArgumentError(absl::StrCat("leaf hash is ", leaf_hash.size(), " bytes, not 32"));
  }
  for (size_t i = 0; i < path.size(); ++i) {
    if (path[i].size() != kMerkleHashSize) {
      return absl::InvalidArgumentError(absl::StrCat("entry ", i, " is ", path[i].size(), " bytes, not 32"));
    }
  }
  // RFC 9162 section 2.1.3.2, step by step: fn climbs from the leaf, sn from
  // the last leaf; where they meet, the path must end.
  uint64_t fn = index;
  uint64_t sn = count - 1;
  std::string r(leaf_hash);
  for (const std::string& p : path) {
    if (sn == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(path.size(), " entries are too many for leaf ", index, " of ", count));
    }
    if ((fn & 1) != 0 || fn == sn) {
      r = NodeHash(p, r);
      // A last, left-hand node has no sibling on the levels it skips.
      while ((fn & 1) == 0 && fn != 0) {
        fn >>= 1;
        sn >>= 1;
      }
    } else {
      r = NodeHash(r, p);
    }
    fn >>= 1;
    sn >>= 1;
  }
  if (sn != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(path.size(), " entries are too few for leaf ", index, " of ", count));
  }
  return r;
}

}  // namespace iicc::proof
