-- Orthanc's labels (1.12.0): any number of short names on any resource, kept with it, deleted with
-- it, searched by /tools/find (Labels, LabelsConstraint). Not a foreign key, as resource_metadata:
-- levels share the table, and a deletion's statement removes them.
CREATE TABLE "resource_labels" (
    "resource_id" CHAR(44) NOT NULL,
    "label" TEXT NOT NULL,

    CONSTRAINT "resource_labels_pkey" PRIMARY KEY ("resource_id","label")
);

-- GET /tools/labels, and finds that start from a label.
CREATE INDEX "resource_labels_label_idx" ON "resource_labels"("label");
