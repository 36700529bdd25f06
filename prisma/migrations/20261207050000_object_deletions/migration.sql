-- Files still to delete from the object store, queued by the statement that deletes their
-- instances' rows (see schema.prisma, ObjectDeletion).

-- CreateTable
CREATE TABLE "object_deletions" (
    "object_key" TEXT NOT NULL,
    "instance_id" CHAR(44) NOT NULL,
    "deletion_id" UUID NOT NULL,
    "queued_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "object_deletions_pkey" PRIMARY KEY ("object_key")
);

-- CreateIndex
CREATE INDEX "object_deletions_deletion_id_object_key_idx" ON "object_deletions"("deletion_id", "object_key");

-- CreateIndex
CREATE INDEX "object_deletions_queued_at_idx" ON "object_deletions"("queued_at");
