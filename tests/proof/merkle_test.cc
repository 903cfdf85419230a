#include "gateway/proof/merkle.h"

#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "gtest/gtest.h"
#include "tests/testing/test_env.h"

namespace iicc::proof {
namespace {

using ::iicc::testing::Sha256Of;

// ------------------------------------------------ an independent reference --
// RFC 9162 section 2.1 read literally: sub-vectors copied, the split found
// from the highest bit of n - 1, SHA-256 from the test's own helper.

std::string RefLeaf(const std::string& data) { return Sha256Of(std::string(1, '\0') + data); }
std::string RefNode(const std::string& left, const std::string& right) { return Sha256Of("\x01" + left + right); }

size_t RefSplit(size_t n) {  // The largest power of two k with k < n.
  size_t k = 1;
  for (size_t rest = n - 1; rest > 1; rest >>= 1) k <<= 1;
  return k;
}

std::string RefRoot(const std::vector<std::string>& d) {
  if (d.size() == 1) return d[0];
  const size_t k = RefSplit(d.size());
  return RefNode(RefRoot({d.begin(), d.begin() + k}), RefRoot({d.begin() + k, d.end()}));
}

std::vector<std::string> RefPath(size_t m, const std::vector<std::string>& d) {
  if (d.size() == 1) return {};
  const size_t k = RefSplit(d.size());
  const std::vector<std::string> left(d.begin(), d.begin() + k);
  const std::vector<std::string> right(d.begin() + k, d.end());
  std::vector<std::string> path = m < k ? RefPath(m, left) : RefPath(m - k, right);
  path.push_back(m < k ? RefRoot(right) : RefRoot(left));
  return path;
}

// Where leaf m sits in a tree of `size`: from the leaf up, whether each
// sibling is on the left ('L') or the right ('R').
std::string RefPosition(size_t m, size_t size) {
  if (size == 1) return "";
  const size_t k = RefSplit(size);
  return m < k ? RefPosition(m, k) + "R" : RefPosition(m - k, size - k) + "L";
}

std::vector<std::string> Leaves(size_t n) {
  std::vector<std::string> leaves;
  for (size_t i = 0; i < n; ++i) leaves.push_back(RefLeaf("header " + std::to_string(i)));
  return leaves;
}

std::string Hex(const std::string& bytes) { return absl::BytesToHexString(bytes); }
std::vector<std::string> Hex(const std::vector<std::string>& list) {
  std::vector<std::string> out;
  for (const std::string& bytes : list) out.push_back(Hex(bytes));
  return out;
}

// ----------------------------------------------------- published vectors --
// The Certificate Transparency reference leaves and roots (RFC 6962 test
// data, unchanged by RFC 9162), e.g. transparency-dev/merkle testonly.

std::vector<std::string> CtLeafHashes() {
  std::vector<std::string> leaves;
  for (const char* hex :
       {"", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"}) {
    leaves.push_back(LeafHash(absl::HexStringToBytes(hex)));
  }
  return leaves;
}

TEST(MerkleTest, RootsMatchPublishedVectors) {
  const std::vector<std::string> roots = {
      "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
      "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
      "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
      "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
      "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
      "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
      "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
      "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
  };
  const std::vector<std::string> leaves = CtLeafHashes();
  for (size_t n = 1; n <= leaves.size(); ++n) {
    const std::vector<std::string> prefix(leaves.begin(), leaves.begin() + n);
    EXPECT_EQ(Hex(MerkleRoot(prefix)), roots[n - 1]) << "n = " << n;
    EXPECT_EQ(Hex(BuildMerkleTree(prefix).root), roots[n - 1]) << "n = " << n;
  }
}

TEST(MerkleTest, PathsMatchPublishedVectors) {
  const std::vector<std::string> leaves = CtLeafHashes();
  struct Vector {
    size_t index;
    size_t size;
    std::vector<std::string> path;
  };
  const std::vector<Vector> vectors = {
      {0, 1, {}},
      {2, 3, {"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"}},
      {1,
       5,
       {"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"}},
      {0,
       8,
       {"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"}},
      {5,
       8,
       {"bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
  };
  for (const Vector& v : vectors) {
    const std::vector<std::string> tree(leaves.begin(), leaves.begin() + v.size);
    EXPECT_EQ(Hex(InclusionPath(tree, v.index)), v.path) << v.index << " of " << v.size;
    EXPECT_EQ(Hex(BuildMerkleTree(tree).paths[v.index]), v.path) << v.index << " of " << v.size;
  }
}

TEST(MerkleTest, LeafHashIsPrefixedSha256) {
  EXPECT_EQ(LeafHash("abc"), Sha256Of(std::string("\0abc", 4)));
  EXPECT_EQ(LeafHash("").size(), kMerkleHashSize);
}

// ------------------------------------------------ against the reference --

TEST(MerkleTest, RootsAndPathsAgreeWithReferenceUpTo33Leaves) {
  for (size_t n = 1; n <= 33; ++n) {
    const std::vector<std::string> leaves = Leaves(n);
    const std::string root = RefRoot(leaves);
    ASSERT_EQ(MerkleRoot(leaves), root) << "n = " << n;
    const MerkleTree tree = BuildMerkleTree(leaves);
    ASSERT_EQ(tree.root, root) << "n = " << n;
    ASSERT_EQ(tree.paths.size(), n);
    for (size_t i = 0; i < n; ++i) {
      const std::vector<std::string> expected = RefPath(i, leaves);
      ASSERT_EQ(InclusionPath(leaves, i), expected) << i << " of " << n;
      ASSERT_EQ(tree.paths[i], expected) << i << " of " << n;
    }
  }
}

TEST(MerkleTest, SingleLeafIsItsOwnRootWithEmptyPath) {
  const std::vector<std::string> leaves = Leaves(1);
  EXPECT_EQ(MerkleRoot(leaves), leaves[0]);
  EXPECT_TRUE(InclusionPath(leaves, 0).empty());
  EXPECT_EQ(RootFromInclusionPath(leaves[0], 0, 1, {}).value(), leaves[0]);
}

TEST(MerkleTest, OutOfRangeIndexGivesEmptyPath) { EXPECT_TRUE(InclusionPath(Leaves(4), 4).empty()); }

// ----------------------------------------------------------- verification --

TEST(MerkleTest, EveryGenuinePathVerifiesAndEveryAlterationFails) {
  for (size_t n = 1; n <= 33; ++n) {
    const std::vector<std::string> leaves = Leaves(n);
    const std::string root = RefRoot(leaves);
    for (size_t i = 0; i < n; ++i) {
      const std::vector<std::string> path = RefPath(i, leaves);
      const auto rebuilt = RootFromInclusionPath(leaves[i], i, n, path);
      ASSERT_TRUE(rebuilt.ok()) << i << " of " << n << ": " << rebuilt.status();
      ASSERT_EQ(*rebuilt, root) << i << " of " << n;

      // Any flipped bit, in the leaf or anywhere in the path, changes the root.
      std::string leaf = leaves[i];
      leaf[i % kMerkleHashSize] ^= 0x01;
      EXPECT_NE(RootFromInclusionPath(leaf, i, n, path).value(), root);
      for (size_t j = 0; j < path.size(); ++j) {
        std::vector<std::string> flipped = path;
        flipped[j][(i + j) % kMerkleHashSize] ^= 0x80;
        EXPECT_NE(RootFromInclusionPath(leaves[i], i, n, flipped).value(), root) << i << " of " << n << " @" << j;
      }

      // Another index fails or gives another root: no two leaves of a tree
      // sit in the same place.
      for (size_t other = 0; other < n + 2; ++other) {
        if (other == i) continue;
        const auto moved = RootFromInclusionPath(leaves[i], other, n, path);
        EXPECT_TRUE(!moved.ok() || *moved != root) << i << " as " << other << " of " << n;
      }
      // Another count does too, unless the leaf sits in the same place in a
      // tree of that size (leaf 0 of 3 and of 4): then the path proves the
      // same thing, as in RFC 9162, where the size is bound by the signed
      // tree head, not by the path.
      for (size_t count = 1; count <= n + 4; ++count) {
        if (count == n) continue;
        const auto resized = RootFromInclusionPath(leaves[i], i, count, path);
        if (i < count && RefPosition(i, count) == RefPosition(i, n)) {
          EXPECT_EQ(resized.value(), root) << i << " of " << n << " as of " << count;
        } else {
          EXPECT_TRUE(!resized.ok() || *resized != root) << i << " of " << n << " as of " << count;
        }
      }

      // A truncated or extended path is refused outright.
      std::vector<std::string> longer = path;
      longer.push_back(leaves[0]);
      EXPECT_EQ(RootFromInclusionPath(leaves[i], i, n, longer).status().code(), absl::StatusCode::kInvalidArgument);
      if (!path.empty()) {
        const std::vector<std::string> shorter(path.begin(), path.end() - 1);
        EXPECT_EQ(RootFromInclusionPath(leaves[i], i, n, shorter).status().code(), absl::StatusCode::kInvalidArgument);
      }
    }
  }
}

TEST(MerkleTest, MalformedInputsAreInvalidArgument) {
  const std::vector<std::string> leaves = Leaves(5);
  const std::vector<std::string> path = RefPath(3, leaves);
  ASSERT_TRUE(RootFromInclusionPath(leaves[3], 3, 5, path).ok());

  EXPECT_EQ(RootFromInclusionPath(leaves[3], 5, 5, path).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(RootFromInclusionPath(leaves[3], 0, 0, {}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(RootFromInclusionPath(leaves[3].substr(1), 3, 5, path).status().code(), absl::StatusCode::kInvalidArgument);
  std::vector<std::string> short_entry = path;
  short_entry[1].pop_back();
  EXPECT_EQ(RootFromInclusionPath(leaves[3], 3, 5, short_entry).status().code(), absl::StatusCode::kInvalidArgument);
  std::vector<std::string> long_entry = path;
  long_entry[0].push_back('x');
  EXPECT_EQ(RootFromInclusionPath(leaves[3], 3, 5, long_entry).status().code(), absl::StatusCode::kInvalidArgument);
  // The largest counts do not overflow.
  EXPECT_EQ(RootFromInclusionPath(leaves[3], UINT64_MAX - 1, UINT64_MAX, path).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(RootFromInclusionPath(leaves[3], UINT64_MAX, UINT64_MAX, path).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace iicc::proof
