using Herald.Recipients;

namespace Herald.Core.Tests.Recipients;

public class RecipientListTests
{
    [Fact]
    public void Read_marks_invalid_and_duplicate_rows_and_keeps_the_first()
    {
        using var files = new TestFiles();
        var path = files.Write("r.csv", "email,first_name\nAnn@Example.com,Ann\nnot-an-address,X\nAnn@EXAMPLE.COM,Ann2\nann@example.com,Other\n");
        using var list = RecipientList.Open(path);
        var rows = list.Read(TestContext.Current.CancellationToken).ToList();
        Assert.Equal(RecipientStatus.Ok, rows[0].Status);
        Assert.Equal("Ann@example.com", rows[0].Email);
        Assert.Equal(RecipientIds.For(null, "ann@example.com"), rows[0].RecipientId);
        Assert.Equal(RecipientStatus.Invalid, rows[1].Status);
        Assert.Equal("invalid address: missing @", rows[1].Reason);
        Assert.Equal(RecipientStatus.Duplicate, rows[2].Status);
        Assert.Equal(4, rows[2].Row); // the physical line: the header is line 1
        Assert.Contains("duplicate address Ann@example.com", rows[2].Reason, StringComparison.Ordinal);
        // The local part is compared case-insensitively by default too (what every major mailbox provider does).
        Assert.Equal(RecipientStatus.Duplicate, rows[3].Status);
    }

    [Fact]
    public void With_a_case_sensitive_local_part_spellings_are_different_recipients_and_the_address_is_kept_as_given()
    {
        using var files = new TestFiles();
        var path = files.Write("r.csv", "email\nZoe@B\u00dcCHER.example\nzoe@bu\u0308cher.example\nZoe@b\u00fccher.example\n");
        using (var insensitive = RecipientList.Open(path))
        {
            var rows = insensitive.Read(TestContext.Current.CancellationToken).ToList();
            Assert.Equal([RecipientStatus.Ok, RecipientStatus.Duplicate, RecipientStatus.Duplicate], rows.Select(r => r.Status));
            Assert.Equal("Zoe@xn--bcher-kva.example", rows[0].Email);
        }

        using var sensitive = RecipientList.Open(path, caseSensitiveLocalPart: true);
        var exact = sensitive.Read(TestContext.Current.CancellationToken).ToList();
        Assert.Equal([RecipientStatus.Ok, RecipientStatus.Ok, RecipientStatus.Duplicate], exact.Select(r => r.Status));
        Assert.Equal("zoe@xn--bcher-kva.example", exact[1].Email);
        Assert.NotEqual(exact[0].RecipientId, exact[1].RecipientId);
    }

    [Fact]
    public void Read_uses_the_recipient_id_column_and_rejects_duplicate_ids()
    {
        using var files = new TestFiles();
        var path = files.Write("r.jsonl", "{\"email\":\"a@example.com\",\"recipient_id\":7}\n{\"email\":\"b@example.com\",\"recipient_id\":\"7\"}\n{\"email\":\"c@example.com\",\"recipient_id\":\"x\\ny\"}\n{\"email\":5}\n");
        using var list = RecipientList.Open(path);
        var rows = list.Read(TestContext.Current.CancellationToken).ToList();
        Assert.Equal("7", rows[0].RecipientId);
        Assert.Equal(RecipientStatus.Duplicate, rows[1].Status);
        Assert.Contains("duplicate recipient_id 7", rows[1].Reason, StringComparison.Ordinal);
        Assert.Equal(RecipientStatus.Invalid, rows[2].Status);
        Assert.Contains("recipient_id", rows[2].Reason, StringComparison.Ordinal);
        Assert.Equal(RecipientStatus.Invalid, rows[3].Status);
    }

    [Fact]
    public void Open_requires_an_email_column()
    {
        using var files = new TestFiles();
        var path = files.Write("r.csv", "mail,name\na@example.com,A\n");
        var ex = Assert.Throws<CampaignException>(() => RecipientList.Open(path));
        Assert.EndsWith("r.csv:1: no 'email' column (columns: mail, name)", ex.Message, StringComparison.Ordinal);
    }
}
